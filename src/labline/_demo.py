"""``labline demo``: the whole loop on scikit-learn's bundled digits data, in one command.

1. register a hypothesis before any run exists;
2. train a baseline and two candidates over five seeds each, logging params, metric curves,
   data fingerprints and per-example predictions;
3. compare them with paired, seed-aware statistics (Holm-corrected) and read the verdict;
4. register the winner after the fact: each candidate's first run packaged its model (its own
   code + weights, every file SHA-256 hashed) without registering; the one the comparison
   picked is registered from its finished run;
5. promote it to ``production`` through the parity gate (a fresh interpreter replays it);
6. show that a tampered copy of the package is refused;
7. serve ``digits@production`` with ``labline serve`` and query it over HTTP (``/predict`` and the
   Open Inference Protocol), checking that every answer names the registered digest.

Everything runs on this machine; nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from . import Client, Digest, DigestMismatchError, LablineError, Settings

SEEDS = range(5)


def _models() -> dict[str, Callable[[int], Any]]:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import SGDClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "sgd": lambda seed: make_pipeline(
            StandardScaler(), SGDClassifier(loss="log_loss", random_state=seed)
        ),
        "forest": lambda seed: RandomForestClassifier(n_estimators=30, random_state=seed),
        "mlp": lambda seed: make_pipeline(
            StandardScaler(), MLPClassifier((64,), max_iter=300, random_state=seed)
        ),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _served(ref: str, settings: Settings, port: int) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "LABLINE_HOME": str(settings.home),
        "LABLINE_URI": settings.uri,
        "LABLINE_ARTIFACT_URI": settings.artifact_uri,
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "labline",
            "serve",
            ref,
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_demo(home: Path, console: Console | None = None, *, serve: bool = True) -> dict[str, Any]:
    """Run the end-to-end demo in a fresh store at ``home``; return a summary (also printed).

    Args:
        home: folder for the demo's store; emptied first.
        console: where to print (a new rich console by default).
        serve: also start ``labline serve`` and query it over HTTP.

    Returns:
        ``{"runs": ..., "comparison": ..., "model": ..., "served": ...}`` as plain data.
    """
    import httpx
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    out = console or Console()
    if home.exists():
        shutil.rmtree(home)
    settings = Settings.local(home)
    client = Client(settings)
    summary: dict[str, Any] = {"home": str(home)}

    out.rule("[bold]labline demo[/bold]: research → statistics → verified package → production")
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.4, random_state=0, stratify=y
    )
    ids = np.arange(len(y_test))

    # 1. the hypothesis comes first
    hyp = client.add_hypothesis(
        seeds=len(SEEDS),
        statement="An MLP beats the linear SGD baseline on digits test accuracy by at least 1 point",
        baseline="digits:model=sgd",
        candidate="digits:model=mlp",
        metric="accuracy",
        min_effect=0.01,
        alpha=0.05,
    )
    out.print(
        f"[bold]1.[/bold] hypothesis #{hyp.id} registered before any run: {hyp.statement!r} ({hyp.status})"
    )

    # 2. training runs
    out.print(
        f"[bold]2.[/bold] training 3 models x {len(SEEDS)} seeds on {len(y_train)} images; "
        f"per-example predictions on {len(y_test)} test images"
    )
    table = Table("model", "seed", "run", "accuracy", title="runs")
    run_ids: dict[str, list[str]] = {}
    packaged: dict[str, Any] = {}
    accuracies: dict[str, list[float]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's convergence chatter
        for kind, make in _models().items():
            for seed in SEEDS:
                with client.start_run(
                    "digits",
                    name=f"{kind}-seed{seed}",
                    params={"model": kind, "seed": seed},
                ) as run:
                    run.log_dataset("train", X_train)
                    run.log_dataset("test", X_test)
                    model = make(seed).fit(X_train, y_train)
                    curve = getattr(
                        model[-1] if hasattr(model, "steps") else model, "loss_curve_", None
                    )
                    for step, loss in enumerate(curve or []):
                        run.log_metric("train_loss", float(loss), step=step)
                    proba = model.predict_proba(X_test)
                    pred = model.classes_[proba.argmax(1)]
                    run.log_predictions("test", ids, y_test, pred, proba, classes=model.classes_)
                    acc = float((pred == y_test).mean())
                    run.log_metric("accuracy", acc)
                    if kind != "sgd" and seed == 0:
                        # the researcher's own fitted pipeline, packaged into the run that
                        # trained it; registered only once the comparison has picked it
                        run.log_model(model, input_example=X_test[:5], eval_inputs=X_test)
                        packaged[kind] = run
                run_ids.setdefault(kind, []).append(run.id)
                accuracies.setdefault(kind, []).append(acc)
                table.add_row(kind, str(seed), run.id[:10], f"{acc:.4f}")
    out.print(table)
    summary["runs"] = run_ids

    # 3. is the candidate really better?
    result = client.compare(
        "digits:model=sgd",
        ["digits:model=forest", "digits:model=mlp"],
        "accuracy",
        dataset="test",
        min_effect=0.01,
    )
    out.print("[bold]3.[/bold] paired, seed-aware comparison (two candidates, Holm-corrected):")
    out.print(result.render())
    summary["comparison"] = result.to_dict()
    hyp_now = client_hypothesis_status(client, hyp.id)
    out.print(f"   hypothesis #{hyp.id} is now: [bold]{hyp_now}[/bold]")

    # 4. register the winner now, from the run that packaged it in step 2
    winner = max(packaged, key=lambda kind: float(np.mean(accuracies[kind])))
    best_run = packaged[winner]
    mv = client.register_model(f"{best_run.id}/model", name="digits")
    out.print(
        f"[bold]4.[/bold] the comparison picked {winner}: registered digits/{mv.version} from run "
        f"{best_run.id[:10]}/model, package {Digest.parse(mv.digest).short(16)} "
        "(every file hashed; the version links to that run)"
    )

    # 5. promotion through the parity gate
    t0 = time.perf_counter()
    promotion = client.promote(
        "digits", mv.version, "production", reason="demo: candidate beat baseline"
    )
    assert promotion.parity is not None
    out.print(
        f"[bold]5.[/bold] parity gate: a fresh interpreter replayed {promotion.parity.n} examples, "
        f"max difference {promotion.parity.max_abs_diff:.2g} → digits@production = v{mv.version} "
        f"({time.perf_counter() - t0:.1f} s)"
    )

    # 6. a tampered copy is refused
    pkg_dir = client.package_dir(mv.digest)
    tampered = home / "tampered-package"
    shutil.copytree(pkg_dir, tampered)
    victim = sorted(p for p in tampered.rglob("*") if p.is_file() and p.parent.name == "weights")[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    try:
        client.load_model(tampered)
        refused = "NOT refused"
    except DigestMismatchError as e:
        refused = str(e)
    out.print(
        f"[bold]6.[/bold] one flipped bit in {victim.relative_to(tampered)} → refused: {refused[:110]}…"
    )
    summary["tampered_refused"] = refused != "NOT refused"

    # 7. serve it
    model_summary = {
        "name": "digits",
        "version": mv.version,
        "digest": mv.digest,
        "run_id": mv.run_id,
        "picked": winner,
    }
    summary["model"] = model_summary
    if serve:
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        with _served("digits@production", settings, port) as proc:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/v2/health/ready", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    raise LablineError(f"labline serve did not become ready: {err[-500:]}")
                time.sleep(0.2)
            rows = X_test[:3].tolist()
            field = _input_field(client.load_model(f"digits/{mv.version}"))
            r = httpx.post(f"{base}/predict", json={"columns": {field: rows}}, timeout=10)
            r.raise_for_status()
            body = r.json()
            oip = httpx.post(
                f"{base}/v2/models/digits/infer",
                json={
                    "id": "demo-1",
                    "inputs": [
                        {
                            "name": "input",
                            "shape": [3, 64],
                            "datatype": "FP64",
                            "data": X_test[:3].ravel().tolist(),
                        }
                    ],
                },
                timeout=10,
            )
            served = {
                "predict_status": r.status_code,
                "predictions": body.get("predictions"),
                "truth": y_test[:3].tolist(),
                "digest_header": r.headers.get("x-labline-model-digest")
                or r.headers.get("labline-model-digest"),
                "oip_status": oip.status_code,
                "oip_model_version": oip.json().get("model_version"),
            }
        summary["served"] = served
        out.print(
            f"[bold]7.[/bold] labline serve digits@production on {base}: predictions {served['predictions']} "
            f"(truth {served['truth']}); answer names {served['digest_header']}; "
            f"OIP infer → {served['oip_status']}, model_version {served['oip_model_version']}"
        )
    out.rule("done")
    cli = shutil.which("labline") or str(Path(sys.executable).with_name("labline"))
    out.print(
        f"Explore: LABLINE_HOME={home} {cli} runs list   (or: models history digits@production)"
    )
    client.close()
    return summary


def _input_field(model: Any) -> str:
    fields = model.manifest.input_schema
    return str(fields[0].name)


def client_hypothesis_status(client: Client, hypothesis_id: int) -> str:
    """The status of a hypothesis as stored (a comparison of its groups evaluates it)."""
    h = client.get_hypothesis(hypothesis_id)
    verdict = (h.result or {}).get("verdict")
    return f"{h.status.value}" + (f" (verdict: {verdict})" if verdict else "")
