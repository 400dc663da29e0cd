"""The runnable examples in public docstrings stay true (examples marked +SKIP need a live model
store and are exercised by the feature tests instead)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "labline",  # public objects say they belong to labline, so their examples are found there
    "labline.artifacts._blobstore",
    "labline.core._json",
    "labline.core.stats._classical",
    "labline.core.stats._delong",
    "labline.serving",
    "labline.serving._settings",
    "labline.store.sql._store",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no runnable examples"
    assert result.failed == 0
