"""One grammar for names, keys, run ids, model references, selectors and digests."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import labline
from labline.core._grammar import check_key, format_selector

TRICKY_KEYS = [
    "lr",
    "a,b",
    "x=y",
    "has:colon",
    'quote"d',
    "back\\slash",
    "tag.literal",
    "with space",
    "a/b",
    "ünïcödé",
    "--flag",
    "k=v,w=x:y",
]


def _random_keys(n: int) -> list[str]:
    rng = random.Random(8)
    alphabet = 'ab:,="\\ .-/_tagé€'
    keys = []
    while len(keys) < n:
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        try:
            keys.append(check_key("param", text))
        except labline.InvalidArgumentError:
            continue
    return keys


@pytest.mark.parametrize("key", TRICKY_KEYS + _random_keys(40))
def test_every_key_that_can_be_logged_can_be_selected(key: str) -> None:
    text = format_selector("exp:1", {key: "v,=1"}, {key: 'it"s'})
    sel = labline.parse_selector(text)
    assert sel.experiment == "exp:1"
    assert dict(sel.params) == {key: "v,=1"} and dict(sel.tags) == {key: 'it"s'}


def test_a_logged_tricky_key_selects_its_run(client: labline.Client) -> None:
    for key in TRICKY_KEYS:
        with client.start_run("exp:1", params={key: "1"}, capture_env=False) as run:
            pass
        with client.start_run("exp:1", params={key: "2"}, capture_env=False):
            pass
        selected = client.select_runs(format_selector("exp:1", {key: "1"}))
        assert [r.id for r in selected] == [run.id], key


def test_selectors_compare_by_what_they_select() -> None:
    a = labline.parse_selector("digits:model=cnn, lr=0.1,tag.stage=final")
    b = labline.parse_selector("digits: tag.stage = final,lr=0.1,model=cnn")
    assert a == b and hash(a) == hash(b) and a.text != b.text
    assert a != labline.parse_selector("digits:model=cnn")
    assert labline.parse_selector("digits:k=a=b").params == {"k": "a=b"}  # old spelling still reads


@pytest.mark.parametrize(
    "bad", ["", "   ", "digits:model", ":a=b", "runs:", 'd:"open', "d:=1", "d: k"]
)
def test_bad_selectors_name_the_problem(bad: str) -> None:
    with pytest.raises(labline.InvalidArgumentError, match="selector"):
        labline.parse_selector(bad)


def test_model_references() -> None:
    assert labline.parse_model_ref("digits@production") == labline.ModelRef(
        "digits", alias="production"
    )
    assert labline.parse_model_ref("digits/3") == labline.ModelRef("digits", version=3)
    assert labline.parse_model_ref("digits") == labline.ModelRef("digits")
    assert (
        str(labline.ModelRef("d", alias="prod")) == "d@prod"
        and labline.ModelRef("d", alias="p").follows_alias
    )
    for bad in ("@x", "d@", "d/x", "/3"):
        with pytest.raises(labline.InvalidArgumentError, match="malformed model reference"):
            labline.parse_model_ref(bad)


def test_digest_has_one_textual_form() -> None:
    hex_ = "ab" * 32
    d = labline.Digest.parse("sha256:" + hex_)
    assert d == labline.Digest.parse(hex_) and str(d) == "sha256:" + hex_
    assert d.short() == "sha256:" + hex_[:12] + "…"
    assert labline.Digest.is_canonical(str(d)) and not labline.Digest.is_canonical(hex_)
    for bad in ("sha256:xyz", "AB" * 32, "../../etc/passwd", 3):
        with pytest.raises(labline.InvalidArgumentError, match="digest"):
            labline.Digest.parse(bad)


class _Identity:
    def predict(self, x: object) -> object:
        return x


def test_package_names_follow_the_grammar(tmp_path: Path) -> None:
    from labline.models import write_package

    for bad in ("a/b", "a@b", ""):
        with pytest.raises(labline.InvalidArgumentError, match="neither '/' nor '@'"):
            write_package(_Identity(), tmp_path / "p", name=bad, input_example=[[1.0]])
