"""The one HTTP error table shared by the model server and ``labline server``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import labline
from labline._http_errors import HTTP_STATUS_BY_ERROR, error_body, http_status


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (labline.NotFoundError("no model 'x'"), 404),
        (labline.InvalidArgumentError("bad"), 400),
        (labline.SchemaError("field 'a': bad"), 400),  # a subclass takes its base's entry
        (labline.ParamConflictError("k", "1", "2"), 400),
        (labline.PayloadTooLargeError("too big"), 413),  # ... unless it has its own
        (labline.UnsupportedMediaTypeError("text/csv"), 415),
        (labline.AlreadyExistsError("taken"), 409),
        (labline.ImmutableError("frozen"), 409),
        (labline.ParityError("differs"), 422),
        (labline.ModelError("ValueError"), 500),
        (labline.DigestMismatchError("a.bin", "00", None), 500),
        (labline.StorageError("down"), 503),
        (labline.SchemaVersionError("old schema"), 503),
        (labline.LablineError("other"), 500),
    ],
)
def test_each_error_has_one_status(error: labline.LablineError, status: int) -> None:
    assert http_status(error) == status


def test_every_public_exception_is_covered_and_bodies_are_json() -> None:
    import json

    for name in labline.__all__:
        obj = getattr(labline, name)
        if isinstance(obj, type) and issubclass(obj, labline.LablineError):
            assert any(issubclass(obj, k) for k in HTTP_STATUS_BY_ERROR), name
    body = error_body(labline.NotFoundError("no model 'ü'"))
    assert json.loads(body) == {"error": "no model 'ü'"}
    assert json.loads(error_body("not found")) == {"error": "not found"}


def test_the_table_imports_only_the_exceptions() -> None:
    """serving/ and server/ both import it, so it must not import either (or any framework)."""
    path = Path(labline.__file__).parent / "_http_errors.py"
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            imported.add(("." * node.level) + (node.module or ""))
        elif isinstance(node, ast.Import):
            imported.update(a.name for a in node.names)
    assert imported <= {"__future__", "json", "collections.abc", "types", "._exceptions"}
