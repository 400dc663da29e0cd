"""The curated public API: ``__all__`` is sorted, complete, and every name resolves."""

from __future__ import annotations

import types

import labline


def test_all_is_sorted_and_resolves() -> None:
    assert labline.__all__ == sorted(labline.__all__)
    for name in labline.__all__:
        assert hasattr(labline, name), name


def test_every_public_name_is_exported() -> None:
    public = {
        name
        for name, value in vars(labline).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(labline.__all__)


def test_exceptions_have_the_documented_bases() -> None:
    assert issubclass(labline.NotFoundError, KeyError)
    assert issubclass(labline.InvalidArgumentError, ValueError)
    assert issubclass(labline.DigestMismatchError, labline.IntegrityError)
    assert issubclass(labline.ParamConflictError, labline.InvalidArgumentError)
    for name in labline.__all__:
        obj = getattr(labline, name)
        if isinstance(obj, type) and issubclass(obj, Warning):
            assert issubclass(obj, UserWarning), name  # warnings are filtered, not caught
        elif isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, labline.LablineError), name
    assert str(labline.NotFoundError("no run 'x'")) == "no run 'x'"


def test_public_objects_name_the_package() -> None:
    for name in labline.__all__:
        assert getattr(labline, name).__module__ == "labline", name


def test_import_labline_loads_no_backend_server_or_cli_framework() -> None:
    import subprocess
    import sys

    code = (
        "import sys, labline\n"
        "heavy = ('labline.store.sql', 'sqlalchemy', 'alembic', 'starlette', 'uvicorn', 'click')\n"
        "print('\\n'.join(m for m in sys.modules if m.split('.')[0] in heavy or m.startswith(heavy)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_cli_starts_without_scientific_or_storage_stacks() -> None:
    """`labline --help` (and every CLI child process the tests start) must not pay for scipy,
    scikit-learn, pandas or SQLAlchemy at import: they load when a command needs them."""
    import subprocess
    import sys

    code = (
        "import sys, labline, labline.cli\n"
        "heavy = {'scipy', 'sklearn', 'pandas', 'sqlalchemy', 'fastapi', 'optuna', 'ray', 'torch'}\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules} & heavy)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
