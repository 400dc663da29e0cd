"""Fixtures for the model server: real packages (scikit-learn on digits) and servers.

Packages are written with :func:`labline.models.write_package` and loaded through the
verified loader, so every test exercises the code path ``labline serve`` uses.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from serving_support import ThreadedServer, load

from labline.serving import ServeSettings, StaticModelSource, create_app


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X[:600] / 16.0), y[:600]


def _fit(X: np.ndarray, y: np.ndarray, C: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, max_iter=300).fit(X, y)


@pytest.fixture(scope="session")
def digits_models(digits: tuple[np.ndarray, np.ndarray]) -> tuple[Any, Any]:
    X, y = digits
    return _fit(X, y, 1.0), _fit(X, y, 0.05)


@pytest.fixture(scope="session")
def package_v1(tmp_path_factory: pytest.TempPathFactory, digits: Any, digits_models: Any) -> Path:
    from labline.models import write_package

    folder = tmp_path_factory.mktemp("pkg") / "digits_v1"
    write_package(
        digits_models[0],
        folder,
        name="digits",
        input_example=digits[0][:5],
        eval_inputs=digits[0][:40],
    )
    return folder


@pytest.fixture(scope="session")
def package_v2(tmp_path_factory: pytest.TempPathFactory, digits: Any, digits_models: Any) -> Path:
    from labline.models import write_package

    folder = tmp_path_factory.mktemp("pkg") / "digits_v2"
    write_package(
        digits_models[1],
        folder,
        name="digits",
        input_example=digits[0][:5],
        eval_inputs=digits[0][:40],
    )
    return folder


@pytest.fixture(scope="session")
def tabular_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A classifier on named columns (int and float) with string class labels."""
    from sklearn.tree import DecisionTreeClassifier

    from labline.models import write_package

    rng = np.random.default_rng(0)
    age = rng.integers(18, 80, 200)
    income = rng.normal(50.0, 10.0, 200)
    labels = np.where(age > 50, "senior", np.where(income > 50, "rich", "other"))
    est = DecisionTreeClassifier(max_depth=4, random_state=0).fit(
        np.column_stack([age, income]), labels
    )
    folder = tmp_path_factory.mktemp("pkg") / "tabular"
    write_package(est, folder, name="tabular", input_example={"age": age[:5], "income": income[:5]})
    return folder


@pytest.fixture
def make_client() -> Callable[..., contextlib.AbstractAsyncContextManager[httpx.AsyncClient]]:
    """``async with make_client(package_or_model, **settings) as client``: in-process app."""

    @contextlib.asynccontextmanager
    async def factory(model: Any, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
        loaded = load(model) if isinstance(model, Path) else model
        app = create_app(ServeSettings(**settings), StaticModelSource(loaded))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://serve") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client

    return factory


@pytest.fixture
def serve_in_thread() -> Iterator[Callable[..., ThreadedServer]]:
    """Start ``create_app(ServeSettings(**settings), source)`` on a real socket."""
    servers: list[ThreadedServer] = []

    def start(source: Any, **settings: Any) -> ThreadedServer:
        if isinstance(source, Path):
            source = StaticModelSource(load(source))
        srv = ThreadedServer(create_app(ServeSettings(**settings), source)).__enter__()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.__exit__(None, None, None)


@pytest.fixture(scope="module")
def registry_home(tmp_path_factory: pytest.TempPathFactory, digits: Any, digits_models: Any) -> Any:
    """A local store with ``digits`` versions 1 and 2 logged (no alias set yet)."""
    import labline

    settings = labline.Settings.local(tmp_path_factory.mktemp("registry"))
    X = digits[0]
    with labline.start_run(experiment="serving-tests", settings=settings) as run:
        v1 = run.log_model(digits_models[0], "digits", input_example=X[:5], eval_inputs=X[:40])
        v2 = run.log_model(digits_models[1], "digits", input_example=X[:5], eval_inputs=X[:40])
    return settings, v1, v2


@pytest.fixture(scope="session")
def fragile_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plain-Python model (no probabilities) whose code raises on negative inputs."""
    from _raising_model import FragileModel

    from labline.models import write_package

    folder = tmp_path_factory.mktemp("pkg") / "fragile"
    write_package(FragileModel(), folder, name="fragile", input_example=np.array([[0.5, 0.7]]))
    return folder
