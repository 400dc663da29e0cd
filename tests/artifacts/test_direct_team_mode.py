"""Direct team mode without a server: PostgreSQL for metadata plus ``LABLINE_ARTIFACT_URI=s3://``
for blobs, against a real S3-compatible server on 127.0.0.1 (moto's), used through s3fs.

A second user, in another process with another home and nothing shared but the two URLs,
sees the first user's runs, compares them and loads the model. With blobs left in a local
folder, labline warns when logging starts and the second user's failure says what to set.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import labline

# the shared store_url fixture, on its PostgreSQL case only
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("store_url", ["postgresql"], indirect=True),
]

SRC = str(Path(__file__).resolve().parents[2] / "src")
AWS = {
    "AWS_ACCESS_KEY_ID": "labline-test",
    "AWS_SECRET_ACCESS_KEY": "labline-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 (a free port) with the bucket ``team``."""
    pytest.importorskip("s3fs")
    server_mod = pytest.importorskip("moto.server")
    import boto3

    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = {k: os.environ.get(k) for k in (*AWS, "AWS_ENDPOINT_URL")}
    os.environ.update({**AWS, "AWS_ENDPOINT_URL": endpoint})
    try:
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="team")
        yield endpoint
    finally:
        import s3fs

        s3fs.S3FileSystem.clear_instance_cache()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()


@pytest.fixture
def pg_url(store_url: str) -> str:
    """A fresh PostgreSQL store (its own schema, dropped afterwards)."""
    assert store_url.startswith("postgresql")
    return store_url


def _log_team_work(client: labline.Client) -> None:
    """Two configurations x 3 seeds with predictions on one test set, and a registered model
    promoted to production."""
    X, Y = load_iris(return_X_y=True)
    rng = np.random.default_rng(0)
    ids = np.arange(len(Y))
    for model, acc in (("a", 0.6), ("b", 0.95)):
        for seed in range(3):
            with client.start_run(
                "iris", params={"model": model, "seed": seed}, capture_env=False
            ) as run:
                right = rng.random(len(Y)) < acc
                run.log_predictions("iris-test", ids, Y, np.where(right, Y, (Y + 1) % 3))
                run.log_metric("accuracy", float(right.mean()))
    with client.start_run("iris", name="final", capture_env=False) as run:
        fitted = LogisticRegression(max_iter=500).fit(X, Y)
        run.log_model(fitted, name="iris-clf", input_example=X[:3], eval_inputs=X[:20])
    client.promote("iris-clf", 1, "production", skip_parity=True, reason="team test")


SECOND_USER = textwrap.dedent(
    """
    import json, os, numpy as np, labline
    from sklearn.datasets import load_iris
    X, _ = load_iris(return_X_y=True)
    client = labline.Client()
    runs = client.search_runs("iris", limit=100)
    report = client.compare("iris:model=a", ["iris:model=b"], "accuracy")
    model = labline.load_model("iris-clf@production")
    print(json.dumps({
        "runs": len(runs),
        "verdict": report.comparisons[0].verdict.value,
        "predictions": np.asarray(model.predict(X[:10])).tolist(),
        "blobs_here": os.path.exists(os.path.join(os.environ["LABLINE_HOME"], "blobs")),
    }))
    """
)


def _second_user(home: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    child = {k: v for k, v in os.environ.items() if not k.startswith("LABLINE_")}
    child.update(env)
    child["LABLINE_HOME"] = str(home)
    child["PYTHONPATH"] = SRC + os.pathsep + child.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-c", SECOND_USER],
        env=child,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_second_user_sees_compares_and_loads_through_postgres_and_s3(
    s3_endpoint: str, pg_url: str, tmp_path: Path
) -> None:
    blobs = "s3://team/blobs"
    first = labline.Client(
        labline.Settings(home=tmp_path / "alice", uri=pg_url, artifact_uri=blobs)
    )
    try:
        _log_team_work(first)
        expected = first.load_model("iris-clf@production").predict(load_iris().data[:10])
    finally:
        first.close()
    import boto3

    stored = boto3.client("s3", endpoint_url=s3_endpoint).list_objects_v2(Bucket="team")
    assert stored["KeyCount"] > 6  # predictions, package files, manifest: all in the bucket
    out = _second_user(
        tmp_path / "bob", {"LABLINE_URI": pg_url, "LABLINE_ARTIFACT_URI": blobs, **AWS}
    )
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["runs"] == 7
    assert seen["verdict"] == "better"
    assert seen["predictions"] == np.asarray(expected).tolist()
    assert seen["blobs_here"] is False  # nothing of alice's came through bob's home


def test_local_blobs_with_a_shared_store_warn_and_the_miss_says_what_to_set(
    pg_url: str, tmp_path: Path
) -> None:
    secret_url = pg_url.replace("postgres@", "postgres:hunter2@")
    settings = labline.Settings(
        home=tmp_path / "alice", uri=secret_url, artifact_uri=str(tmp_path / "alice" / "blobs")
    )
    first = labline.Client(settings)
    try:
        with pytest.warns(labline.LocalArtifactsWarning) as caught:
            _log_team_work(first)
    finally:
        first.close()
    message = str(caught[0].message)
    assert "LABLINE_ARTIFACT_URI" in message and "LABLINE_URI=http" in message
    assert "hunter2" not in message and "***" in message
    out = _second_user(tmp_path / "bob", {"LABLINE_URI": pg_url})
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert "no blob sha256:" in last and str(tmp_path / "bob") in last
    assert "LABLINE_ARTIFACT_URI=s3://" in last and "LABLINE_URI=http" in last
