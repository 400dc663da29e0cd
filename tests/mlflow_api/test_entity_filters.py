"""MLflow's filters over experiments, registered models and model versions (the predicate the
MLflow API applies to each record), including the prompt filter MLflow 3 clients add."""

from __future__ import annotations

import pytest

from labline.server.mlflow._errors import MlflowApiError
from labline.server.mlflow._filters import entity_filter

ATTRS = ("name", "creation_time", "version_number")
CARD = {"name": "digits-cnn", "creation_time": 1_700_000_000_000, "version_number": 3}


@pytest.mark.parametrize(
    ("text", "tags", "expected"),
    [
        ("name = 'digits-cnn'", {}, True),
        ("name='digits-cnn'", {}, True),
        ("attributes.name != 'digits-cnn'", {}, False),
        ("name LIKE 'digits%'", {}, True),
        ("name LIKE 'DIGITS%'", {}, False),
        ("name ILIKE 'DIGITS%'", {}, True),
        ("name NOT LIKE '%cnn'", {}, False),
        ("name IN ('a', 'digits-cnn')", {}, True),
        ("name NOT IN ('a', 'digits-cnn')", {}, False),
        ("creation_time > 1699999999999 AND version_number <= 3", {}, True),
        ("version_number = 3", {}, True),
        ("version_number < 3", {}, False),
        ("tags.team = 'cv'", {"team": "cv"}, True),
        ("tags.`team` = 'nlp'", {"team": "cv"}, False),
        ("tags.team = 'cv'", {}, False),
        # MLflow 3 clients append this to every registered-model search
        ("name = 'digits-cnn' AND tag.`mlflow.prompt.is_prompt` != 'true'", {}, True),
        ("tag.`mlflow.prompt.is_prompt` != 'true'", {"mlflow.prompt.is_prompt": "true"}, False),
        ("tag.`mlflow.prompt.is_prompt` = 'true'", {}, False),
        ("name = 'it''s'", {}, False),
    ],
)
def test_entity_filters(text: str, tags: dict[str, str], expected: bool) -> None:
    keep = entity_filter(text, ATTRS, "models")
    assert keep is not None and keep(CARD, tags) is expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("owner = 'ana'", "not 'owner'"),
        ("name = 'a' OR name = 'b'", "AND"),
        ("name >", "expected a value"),
        ("name > 'a'", "compares with a number"),
        ("name LIKE 3", "expected a value"),
        ("name IN 'a'", "parenthesised"),
        ("name NOT = 'a'", "NOT goes before"),
        ("name = 'unterminated", "unexpected text"),
    ],
)
def test_malformed_entity_filters_are_400s_naming_the_problem(text: str, message: str) -> None:
    with pytest.raises(MlflowApiError) as e:
        entity_filter(text, ATTRS, "models")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE" and message in e.value.message


def test_blank_filters_filter_nothing() -> None:
    assert entity_filter(None, ATTRS, "models") is None
    assert entity_filter("  ", ATTRS, "models") is None
