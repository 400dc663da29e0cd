"""What a sweep's trial runs: a Python function or a command, loaded once from a
:class:`~labline.core._sweep_config.SweepConfig` and called with one trial's params.

A function is ``fn(params)`` or ``fn(params, trial)`` (the engine's trial object: Optuna's
``Trial`` for reporting intermediate values and pruning); which one is decided when it is
loaded. A command is run without a shell, each ``{name}`` in it replaced by that param's
value; it gets the params as JSON in ``LABLINE_TRIAL_PARAMS`` (and the store's
``LABLINE_URI``/``LABLINE_ARTIFACT_URI``/``LABLINE_HOME``), and prints its result as the last
line of its standard output: a number (the objective) or a JSON object of metrics.

Either returns a number (the objective's value) or a mapping of metric names to numbers that
holds the objective's metric; the other metrics are logged on the trial's run too.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import re
import shlex
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ._exceptions import InvalidArgumentError, ModelError
from ._imports import import_attribute
from ._settings import Settings
from .core._sweep_config import SweepConfig

__all__ = ["Objective", "TrialOutcome", "load_objective"]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][\w.\-]*)\}")


@dataclass(frozen=True)
class TrialOutcome:
    """What one call of the objective gave: its value and every metric it named."""

    value: float
    metrics: Mapping[str, float]


def _outcome(result: Any, metric: str, source: str) -> TrialOutcome:
    if isinstance(result, Mapping):
        if metric not in result:
            raise InvalidArgumentError(
                f"{source} returned metrics {sorted(map(str, result))[:8]} without the "
                f"objective {metric!r}"
            )
        metrics = {}
        for k, v in result.items():
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise InvalidArgumentError(f"{source}: metric {str(k)[:60]!r} is not a number")
            metrics[str(k)] = float(v)
        return TrialOutcome(metrics[metric], metrics)
    if isinstance(result, bool) or not isinstance(result, int | float):
        raise InvalidArgumentError(
            f"{source} returned a {type(result).__name__}; return a number or a dict of metrics"
        )
    return TrialOutcome(float(result), {metric: float(result)})


class Objective:
    """One sweep's objective, loaded once; call it with a trial's params."""

    def __init__(self, config: SweepConfig, settings: Settings) -> None:
        self.config = config
        self._settings = settings
        self._fn: Callable[..., Any] | None = None
        self._takes_trial = False
        if config.function is not None:
            self._fn, self._takes_trial = _import_function(config.function)
        if config.command is not None:
            args = [config.command] if isinstance(config.command, str) else config.command
            known = {p.name for p in config.space} | {config.seed_param}
            for arg in args:
                for name in _PLACEHOLDER.findall(arg):
                    if name not in known:
                        raise InvalidArgumentError(
                            f"objective.command names {{{name}}}, which is not a param of space"
                        )

    @property
    def takes_trial(self) -> bool:
        """Whether the function also takes the engine's trial object."""
        return self._takes_trial

    def __call__(self, params: Mapping[str, Any], trial: Any = None) -> TrialOutcome:
        """Run one trial with ``params``.

        Raises:
            InvalidArgumentError: the result holds no objective value.
            ModelError: the command failed, timed out or printed no result.
            Exception: whatever the user's function raises.
        """
        if self._fn is not None:
            result = self._fn(dict(params), trial) if self._takes_trial else self._fn(dict(params))
            return _outcome(result, self.config.metric, f"objective {self.config.function}")
        return self._run_command(params)

    def _run_command(self, params: Mapping[str, Any]) -> TrialOutcome:
        command = self.config.command
        assert command is not None
        args = shlex.split(command) if isinstance(command, str) else list(command)

        # the sweep's own trials run with seed 0; re-runs pass their seed as a param
        values = {self.config.seed_param: 0, **params}

        def fill(text: str) -> str:
            return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text)

        argv = [fill(a) for a in args]
        env = dict(os.environ)
        env.update(
            LABLINE_HOME=str(self._settings.home),
            LABLINE_URI=self._settings.uri,
            LABLINE_ARTIFACT_URI=self._settings.artifact_uri,
            LABLINE_TRIAL_PARAMS=json.dumps(dict(params)),
        )
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                env=env,
                timeout=self.config.trial_timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ModelError(
                f"the command ran longer than objective.timeout ({self.config.trial_timeout:g}s)"
            ) from None
        except OSError as e:
            raise ModelError(f"cannot run {argv[0]!r}: {e.strerror}") from None
        if done.returncode != 0:
            raise ModelError(f"the command exited with status {done.returncode}")
        lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
        if not lines:
            raise ModelError("the command printed nothing (print the result last)")
        try:
            result = json.loads(lines[-1])
        except ValueError:
            raise ModelError(
                "the command's last line is not a number or a JSON object of metrics"
            ) from None
        if isinstance(result, float) and not math.isfinite(result):
            raise ModelError("the command's result is not a finite number")
        return _outcome(result, self.config.metric, "the command")


def _import_function(path: str) -> tuple[Callable[..., Any], bool]:
    module_name, _, attribute = path.partition(":")
    found: Any = import_attribute(
        module_name, attribute, "objective.function", " (is it on the Python path?)"
    )
    if not callable(found):
        raise InvalidArgumentError(f"objective.function: {path!r} is not callable")
    try:
        sig = inspect.signature(found)
    except (TypeError, ValueError):
        return found, False
    positional = [
        p
        for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    if len(positional) not in (1, 2):
        raise InvalidArgumentError(
            f"objective.function: {path!r} must take (params) or (params, trial)"
        )
    return found, len(positional) == 2


def load_objective(config: SweepConfig, settings: Settings) -> Objective:
    """Load a sweep's objective (imports its function now, so a bad path fails early).

    Raises:
        InvalidArgumentError: the function cannot be imported or has the wrong signature.
    """
    return Objective(config, settings)
