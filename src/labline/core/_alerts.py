"""Prometheus alerting rules for one served model: the file ``labline alerts export`` writes.

Seven rules, each with ``labels: {severity}`` and ``annotations`` naming the model version and a
runbook line. They read the series ``labline serve`` exports (``labline_serving_*``,
``labline_monitor_*`` and ``labline_review_*``, see :mod:`labline.serving._monitoring` and
:mod:`labline.serving._review_feed`). The reference accuracy is the one recorded when the
model was packaged, on its evaluation data: the inputs the parity gate replays at promotion.

=============================  ===========================================================
``LablineFeatureDrift``        drifted feature share above a threshold, held ``for`` a window
``LablineAccuracyDrop``        estimated accuracy below the reference (packaging-time)
                               accuracy minus a margin
``LablineAuditedAccuracyDrop`` accuracy measured on reviewed audit samples below the
                               reference minus the margin, even at the upper end of its
                               Wilson interval (needs ``labline serve --review``)
``LablineErrorRate``           share of 5xx answers above a threshold
``LablineLatencyP99``          p99 latency of the inference routes above a threshold
``LablineDeferralAbovePromise`` deferral rate above the calibrated promise plus a margin
``LablineDigestChanged``       a second package digest served within the window without an
                               alias switch (a switch follows a promotion through the parity
                               gate; anything else is a redeploy or a swap to look at)
=============================  ===========================================================

The file is YAML; every string is written JSON-quoted (JSON strings are YAML strings), so no
model name can break it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .._exceptions import InvalidArgumentError

__all__ = ["ALERT_NAMES", "AlertThresholds", "alert_rules_document", "alert_rules_yaml"]

ALERT_NAMES = (
    "LablineFeatureDrift",
    "LablineAccuracyDrop",
    "LablineAuditedAccuracyDrop",
    "LablineErrorRate",
    "LablineLatencyP99",
    "LablineDeferralAbovePromise",
    "LablineDigestChanged",
)
_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
_INFER_ROUTES = "/predict|/v2/models/.*/infer"


@dataclass(frozen=True)
class AlertThresholds:
    """Where each alert fires.

    Attributes:
        drift_share: drifted feature share above which drift alerts.
        drift_for: how long the share must stay above it (a Prometheus duration).
        accuracy_margin: how far below the reference accuracy the estimate may go.
        accuracy_for: how long the estimate must stay below.
        error_rate: share of 5xx answers above which errors alert.
        latency_p99_s: p99 latency in seconds above which latency alerts.
        deferral_margin: how far above the calibrated deferral rate the live one may go.
        slow_for: how long the error, latency and deferral conditions must hold.
        digest_window: how far back a second served digest is looked for.

    Raises:
        InvalidArgumentError: a share outside [0, 1], a non-positive latency or a malformed
            duration.
    """

    drift_share: float = 0.3
    drift_for: str = "10m"
    accuracy_margin: float = 0.05
    accuracy_for: str = "15m"
    error_rate: float = 0.01
    latency_p99_s: float = 0.5
    deferral_margin: float = 0.05
    slow_for: str = "5m"
    digest_window: str = "15m"

    def __post_init__(self) -> None:
        for name in ("drift_share", "accuracy_margin", "error_rate", "deferral_margin"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise InvalidArgumentError(f"{name} must be in [0, 1]")
        if not self.latency_p99_s > 0:
            raise InvalidArgumentError("latency_p99_s must be positive")
        for name in ("drift_for", "accuracy_for", "slow_for", "digest_window"):
            if not _DURATION.match(getattr(self, name)):
                raise InvalidArgumentError(
                    f"{name} must be a Prometheus duration such as 30s, 10m or 1h"
                )


def _label_value(text: str) -> str:
    """``text`` as a PromQL string literal (double-quoted, escaped)."""
    return json.dumps(text)


def _rule(
    alert: str,
    expr: str,
    for_: str,
    severity: str,
    summary: str,
    description: str,
    runbook: str,
) -> dict[str, Any]:
    return {
        "alert": alert,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity},
        "annotations": {"summary": summary, "description": description, "runbook": runbook},
    }


def _rules(name: str, version: int | None, digest: str, t: AlertThresholds) -> list[dict[str, Any]]:
    model = _label_value(name)
    exported = f"{name} version {version if version is not None else '(unversioned)'} ({digest})"
    served = "{{ $labels.model }} version {{ $labels.version }}"
    on_model = f"labline_serving_model_info{{name={model}}} == 1"
    # the serving series carry no model label: join the served model's name and version in
    joined = f"* on (job, instance) group_left (name, version) ({on_model})"
    served_info = "{{ $labels.name }} version {{ $labels.version }}"
    return [
        _rule(
            "LablineFeatureDrift",
            f"max by (model, version) (labline_monitor_drifted_feature_share{{model={model}}})"
            f" > {t.drift_share}",
            t.drift_for,
            "warning",
            f"{served}: {{{{ $value | humanizePercentage }}}} of input features drifted",
            f"The live window of {served} differs from its reference profile in more than "
            f"{t.drift_share:.0%} of its features (KS / chi-squared, Holm-corrected). "
            f"Rules exported for {exported}.",
            f"Run `labline monitor {name}@<alias> --server <url>` to see which features moved "
            "and by how much; check the upstream data source, then decide whether to retrain.",
        ),
        _rule(
            "LablineAccuracyDrop",
            f"min by (model, version) (labline_monitor_estimated_accuracy{{model={model}}})"
            f" < on (model, version) (max by (model, version) "
            f"(labline_monitor_reference_accuracy{{model={model}}}) - {t.accuracy_margin})",
            t.accuracy_for,
            "critical",
            f"{served}: estimated accuracy {{{{ $value | humanizePercentage }}}} below "
            "its reference",
            f"The accuracy estimated from calibrated confidences (no labels; assumes no concept "
            f"drift) fell more than {t.accuracy_margin} below the accuracy recorded when "
            f"{served} was packaged. Rules exported for {exported}.",
            f"Compare with audited labels if any (`labline review`); run `labline monitor "
            f"{name}@<alias> --server <url>`; roll back with `labline models promote` to the "
            "previous version if the drop is real.",
        ),
        _rule(
            "LablineAuditedAccuracyDrop",
            f"max by (model, version) (labline_review_audit_accuracy_high{{model={model}}})"
            f" < on (model, version) (max by (model, version) "
            f"(labline_monitor_reference_accuracy{{model={model}}}) - {t.accuracy_margin})",
            t.accuracy_for,
            "critical",
            f"{served}: audited live accuracy at most {{{{ $value | humanizePercentage }}}}, "
            "below its reference",
            f"Reviewers' labels on a random audit sample of the answers {served} kept put its "
            f"live accuracy below the accuracy recorded at packaging minus {t.accuracy_margin},"
            f" even at the upper end of the Wilson 95% interval. Rules exported for "
            f"{exported}.",
            f"Run `labline review stats --model {name}` and `labline monitor {name}@<alias> "
            "--server <url>`; retrain on the reviewed items (`labline datasets create`) or roll "
            "back with `labline models promote` to the previous version.",
        ),
        _rule(
            "LablineErrorRate",
            "(sum by (job, instance) (rate(labline_serving_request_errors_total"
            '{status=~"5.."}[5m])) / sum by (job, instance) '
            f"(rate(labline_serving_requests_total[5m]))) {joined} > {t.error_rate}",
            t.slow_for,
            "critical",
            f"{served_info}: {{{{ $value | humanizePercentage }}}} of requests fail (5xx)",
            f"More than {t.error_rate:.1%} of the requests to {served_info} on "
            f"{{{{ $labels.instance }}}} end in a server error. Rules exported for {exported}.",
            "Read the server log (`labline serve --log-level info`): it names the failing "
            "endpoint and exception type; a model-code error reproduces with "
            "`labline.load_model(...)`.",
        ),
        _rule(
            "LablineLatencyP99",
            "histogram_quantile(0.99, sum by (le, job, instance) "
            "(rate(labline_serving_request_duration_seconds_bucket"
            f'{{endpoint=~"{_INFER_ROUTES}"}}[5m]))) {joined} > {t.latency_p99_s}',
            t.slow_for,
            "warning",
            f"{served_info}: p99 latency {{{{ $value | humanizeDuration }}}}",
            f"The 99th percentile of inference latency of {served_info} on "
            f"{{{{ $labels.instance }}}} is above {t.latency_p99_s}s. Rules exported for "
            f"{exported}.",
            "Check load and batch sizes (labline_serving_batch_size); add workers "
            "(`labline serve --workers N`) or replicas behind the load balancer.",
        ),
        _rule(
            "LablineDeferralAbovePromise",
            f"max by (model, version) (labline_monitor_deferral_rate{{model={model}}})"
            f" > on (model, version) (max by (model, version) "
            f"(labline_monitor_promised_deferral_rate{{model={model}}}) + {t.deferral_margin})",
            t.slow_for,
            "warning",
            f"{served}: deferral rate {{{{ $value | humanizePercentage }}}} above the "
            "calibrated promise",
            f"{served} defers more inputs to people than its calibration promised (plus "
            f"{t.deferral_margin}); the review queue will grow. Rules exported for {exported}.",
            "Look for input drift first (`labline monitor`); staff the review queue; "
            "recalibrate (`labline calibrate`) on recent labelled data.",
        ),
        _rule(
            "LablineDigestChanged",
            "count by (job, instance, name) (max_over_time(labline_serving_model_info"
            f"{{name={model}}}[{t.digest_window}]) == 1) > 1 unless on (job, instance) "
            f"(increase(labline_serving_model_switches_total[{t.digest_window}]) > 0)",
            "0m",
            "critical",
            "{{ $labels.name }}: the served package digest changed without a promotion",
            "{{ $labels.instance }} served more than one package digest of {{ $labels.name }} "
            f"within {t.digest_window} and no alias switch explains it (alias following "
            f"switches only after a promotion through the parity gate). Rules exported for "
            f"{exported}.",
            f"Check `labline models history {name}` and who restarted the server with which "
            "reference; `labline models verify` checks the stored packages.",
        ),
    ]


def alert_rules_document(
    name: str, version: int | None, digest: str, thresholds: AlertThresholds | None = None
) -> dict[str, Any]:
    """The Prometheus rules file for model ``name`` as a JSON object (``{"groups": [...]}``;
    Prometheus reads it as it is, JSON being YAML).

    Args:
        name: the model's name (selects its series).
        version: the version the rules are exported for (named in the annotations).
        digest: that version's package digest.
        thresholds: where each alert fires.

    Returns:
        One group ``labline-<name>`` of seven alerting rules.
    """
    rules = _rules(name, version, digest, thresholds or AlertThresholds())
    return {"groups": [{"name": "labline-" + name, "rules": rules}]}


def alert_rules_yaml(
    name: str, version: int | None, digest: str, thresholds: AlertThresholds | None = None
) -> str:
    """The Prometheus rules file for model ``name`` (YAML, strings JSON-quoted).

    Args:
        name: the model's name (selects its series).
        version: the version the rules are exported for (named in the annotations).
        digest: that version's package digest.
        thresholds: where each alert fires.

    Returns:
        The file's text: :func:`alert_rules_document` written as YAML.
    """
    (group,) = alert_rules_document(name, version, digest, thresholds)["groups"]
    lines = ["groups:", f"  - name: {json.dumps(group['name'])}", "    rules:"]
    for rule in group["rules"]:
        lines.append(f"      - alert: {json.dumps(rule['alert'])}")
        lines.append(f"        expr: {json.dumps(rule['expr'])}")
        lines.append(f"        for: {json.dumps(rule['for'])}")
        lines.append("        labels:")
        for key, value in rule["labels"].items():
            lines.append(f"          {key}: {json.dumps(value)}")
        lines.append("        annotations:")
        for key, value in rule["annotations"].items():
            lines.append(f"          {key}: {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"
