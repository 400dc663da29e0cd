"""``labline alerts export``: the rules pass the real ``promtool check rules``, and
``promtool test rules`` makes each alert fire and resolve on synthetic series."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from labline import AlertThresholds, InvalidArgumentError
from labline.cli import main
from labline.core._alerts import ALERT_NAMES, alert_rules_document, alert_rules_yaml

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool missing: scripts/setup.sh installs Debian's prometheus"
)

MODEL = {"model": "shop", "version": "1"}
SERVED = {"job": "serve", "instance": "a"}


def _series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return {"series": f"{name}{{{inner}}}", "values": values}


def _render(template: str, labels: dict[str, str], value: str) -> str:
    out = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], template)
    return re.sub(r"\{\{ \$value \| humanize\w+ \}\}", value, out)


def _expected(
    rules: dict[str, Any], alert: str, labels: dict[str, str], value: str
) -> dict[str, Any]:
    rule = next(r for r in rules["groups"][0]["rules"] if r["alert"] == alert)
    all_labels = {**labels, **rule["labels"]}
    return {
        "exp_labels": all_labels,
        "exp_annotations": {
            k: _render(v, all_labels, value) for k, v in rule["annotations"].items()
        },
    }


def _unit_tests(rules: dict[str, Any]) -> list[dict[str, Any]]:
    info = {"name": "shop", "version": "1", "digest": "sha256:a", **SERVED}
    joined = {**SERVED, "name": "shop", "version": "1"}
    info_series = _series("labline_serving_model_info", info, "1x60")

    def case(
        series: list[dict[str, str]],
        alert: str,
        fire_at: str,
        resolve_at: str,
        labels: dict[str, str],
        value: str,
    ) -> dict[str, Any]:
        return {
            "interval": "1m",
            "input_series": series,
            "alert_rule_test": [
                {"eval_time": "3m", "alertname": alert, "exp_alerts": []},
                {
                    "eval_time": fire_at,
                    "alertname": alert,
                    "exp_alerts": [_expected(rules, alert, labels, value)],
                },
                {"eval_time": resolve_at, "alertname": alert, "exp_alerts": []},
            ],
        }

    return [
        case(
            [
                _series(
                    "labline_monitor_drifted_feature_share", {**MODEL, **SERVED}, "0x5 0.5x20 0x20"
                )
            ],
            "LablineFeatureDrift",
            "20m",
            "45m",
            MODEL,
            "50%",
        ),
        case(
            [
                _series(
                    "labline_monitor_estimated_accuracy", {**MODEL, **SERVED}, "0.9x5 0.8x30 0.9x20"
                ),
                _series("labline_monitor_reference_accuracy", {**MODEL, **SERVED}, "0.9x60"),
            ],
            "LablineAccuracyDrop",
            "25m",
            "55m",
            MODEL,
            "80%",
        ),
        case(
            [
                _series(
                    "labline_review_audit_accuracy_high",
                    {**MODEL, **SERVED},
                    "0.97x5 0.84x30 0.95x20",
                ),
                _series("labline_monitor_reference_accuracy", {**MODEL, **SERVED}, "0.95x60"),
            ],
            "LablineAuditedAccuracyDrop",
            "25m",
            "55m",
            MODEL,
            "84%",
        ),
        case(
            [
                info_series,
                _series(
                    "labline_serving_requests_total",
                    {"endpoint": "/predict", "status": "200", **SERVED},
                    "0+60x60",
                ),
                _series(
                    "labline_serving_requests_total",
                    {"endpoint": "/predict", "status": "500", **SERVED},
                    "0x10 30+30x19 600x30",
                ),
                _series(
                    "labline_serving_request_errors_total",
                    {"endpoint": "/predict", "status": "500", **SERVED},
                    "0x10 30+30x19 600x30",
                ),
            ],
            "LablineErrorRate",
            "20m",
            "45m",
            joined,
            "33.33%",
        ),
        case(
            [
                info_series,
                _series(
                    "labline_serving_request_duration_seconds_bucket",
                    {"endpoint": "/predict", "le": "0.1", **SERVED},
                    "0+60x10 600x50",
                ),
                _series(
                    "labline_serving_request_duration_seconds_bucket",
                    {"endpoint": "/predict", "le": "1", **SERVED},
                    "0+60x10 600x50",
                ),
                _series(
                    "labline_serving_request_duration_seconds_bucket",
                    {"endpoint": "/predict", "le": "+Inf", **SERVED},
                    "0+60x30 1800x30",
                ),
            ],
            "LablineLatencyP99",
            "25m",
            "50m",
            joined,
            "1s",
        ),
        case(
            [
                _series(
                    "labline_monitor_deferral_rate", {**MODEL, **SERVED}, "0.1x5 0.3x20 0.1x20"
                ),
                _series("labline_monitor_promised_deferral_rate", {**MODEL, **SERVED}, "0.1x60"),
            ],
            "LablineDeferralAbovePromise",
            "15m",
            "40m",
            MODEL,
            "30%",
        ),
        case(
            [
                _series("labline_serving_model_info", info, "1x10 _x50"),
                _series(
                    "labline_serving_model_info",
                    {**info, "version": "2", "digest": "sha256:b"},
                    "_x11 1x49",
                ),
                _series("labline_serving_model_switches_total", SERVED, "0x60"),
            ],
            "LablineDigestChanged",
            "15m",
            "40m",
            {**SERVED, "name": "shop"},
            "2",
        ),
        {  # the same change after an alias switch (a promotion) stays quiet
            "interval": "1m",
            "input_series": [
                _series("labline_serving_model_info", info, "1x10 _x50"),
                _series(
                    "labline_serving_model_info",
                    {**info, "version": "2", "digest": "sha256:b"},
                    "_x11 1x49",
                ),
                _series("labline_serving_model_switches_total", SERVED, "0x10 1x50"),
            ],
            "alert_rule_test": [
                {"eval_time": "15m", "alertname": "LablineDigestChanged", "exp_alerts": []}
            ],
        },
    ]


@pytest.fixture
def rules_file(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    text = alert_rules_yaml("shop", 1, "sha256:a")
    path = tmp_path / "rules.yml"
    path.write_text(text)
    return path, yaml.safe_load(text)


def test_every_rule_has_a_severity_and_names_the_version(rules_file) -> None:  # type: ignore[no-untyped-def]
    _, rules = rules_file
    got = rules["groups"][0]["rules"]
    assert [r["alert"] for r in got] == list(ALERT_NAMES)
    for r in got:
        assert r["labels"]["severity"] in ("warning", "critical")
        assert "shop version 1 (sha256:a)" in r["annotations"]["description"]
        assert r["annotations"]["runbook"]


@needs_promtool
def test_promtool_checks_the_rules(rules_file) -> None:  # type: ignore[no-untyped-def]
    path, _ = rules_file
    out = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "7 rules found" in out.stdout


@needs_promtool
def test_each_alert_fires_and_resolves_in_promtool(rules_file, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path, rules = rules_file
    tests = {"rule_files": [path.name], "evaluation_interval": "1m", "tests": _unit_tests(rules)}
    test_path = tmp_path / "rules_test.yml"
    test_path.write_text(json.dumps(tests))  # JSON is YAML
    out = subprocess.run(
        [PROMTOOL, "test", "rules", test_path.name], capture_output=True, text=True, cwd=tmp_path
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


@needs_promtool
def test_promtool_checks_the_json_rules(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(alert_rules_document("shop", 1, "sha256:a")))
    out = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{len(ALERT_NAMES)} rules found" in out.stdout
    assert alert_rules_document("shop", 1, "sha256:a") == yaml.safe_load(
        alert_rules_yaml("shop", 1, "sha256:a")
    )


@needs_promtool
def test_a_hostile_model_name_cannot_break_the_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(alert_rules_yaml('we"ird\nname: {x}', None, "sha256:a"))
    out = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_thresholds_are_checked() -> None:
    with pytest.raises(InvalidArgumentError, match="drift_for"):
        AlertThresholds(drift_for="ten minutes")
    with pytest.raises(InvalidArgumentError, match="drift_share"):
        AlertThresholds(drift_share=2.0)


def test_cli_exports_the_rules_of_a_registered_version(tmp_path: Path) -> None:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    import labline

    settings = labline.Settings.local(tmp_path / "home")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)
    with labline.start_run(experiment="alerts", settings=settings) as run:
        mv = run.log_model(
            LogisticRegression().fit(X, y), "shop", input_example=X[:5], eval_inputs=X
        )
    env = {"LABLINE_HOME": str(tmp_path / "home")}
    result = CliRunner().invoke(
        main, ["alerts", "export", "shop/1", "--drift-share", "0.2"], env=env
    )
    assert result.exit_code == 0, result.output
    rules = yaml.safe_load(result.output)
    first = rules["groups"][0]["rules"][0]
    assert first["expr"].endswith("> 0.2")
    assert f"shop version 1 ({mv.digest})" in first["annotations"]["description"]
    as_json = CliRunner().invoke(
        main, ["alerts", "export", "shop/1", "--drift-share", "0.2", "--json"], env=env
    )
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output) == rules  # the same rules, as JSON
    bad = CliRunner().invoke(main, ["alerts", "export", "nosuch/1"], env=env)
    assert bad.exit_code == 1
    assert bad.output.startswith("error:") and "Traceback" not in bad.output
