"""Use cases that read metric series shaped for charts (downsampled, banded across seeds)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._exceptions import NotFoundError
from .core._downsample import envelope
from .core._downsample import seed_band as _seed_band
from .core._types import SeedBand, SeriesEnvelope

if TYPE_CHECKING:
    from ._client import Client


def metric_envelope(
    client: Client,
    run_id: str,
    key: str,
    *,
    buckets: int,
    step_min: float | None,
    step_max: float | None,
) -> SeriesEnvelope:
    """See :meth:`labline.Client.metric_envelope`."""
    # steps and values only: the timestamps are half of a long series' bytes
    steps, values = client.store.get_metric_steps_values(run_id, key)
    return envelope(steps, values, buckets, step_min=step_min, step_max=step_max)


def seed_band(
    client: Client,
    run_ids: Sequence[str],
    key: str,
    *,
    buckets: int,
    confidence: float,
    step_min: float | None,
    step_max: float | None,
) -> SeedBand:
    """See :meth:`labline.Client.seed_band`. A run that never logged ``key`` adds nothing."""
    series = []
    for run_id in run_ids:
        run = client.get_run(run_id)
        if key not in run.metrics:
            continue
        try:
            series.append(client.store.get_metric_steps_values(run.id, key))
        except NotFoundError:
            continue
    if not series:
        raise NotFoundError(f"none of the {len(run_ids)} runs logged the metric {key!r}")
    return _seed_band(series, buckets, confidence=confidence, step_min=step_min, step_max=step_max)
