"""The textual forms of labline, each with one owner: names and keys, run ids, model
references, run selectors and digests. Everything that parses, checks or prints one of these
calls this module, so a key that can be logged can also be selected, and a name the registry
takes is one a package can carry.

Forms::

    key         a metric/param/tag key: 1-250 characters, no control characters, no
                leading or trailing space
    name        an experiment/run/dataset name: the same rule as a key
    run id      32 lowercase hex characters
    artifact    a relative '/'-separated path without '.' or '..' parts (at most 1000)
    package     any name without '/' or '@' (a package served from a folder)
    model name  letters, digits, '_', '.', '-'; starts with a letter or digit; at most 250
                (what the registry takes)
    alias       like a model name but starts with a letter (so it never looks like a version)
    model ref   name | name/3 | name@alias   (or a package folder, decided by the caller)
    selector    experiment[:key=value,...]   params, or tag.key=value for tags
                runs:REF,REF  or  ID,ID      explicit runs (after runs: ids, unique id
                                             prefixes or run names)
                a key, value or experiment holding , = : or " is written in double quotes,
                with \\" and \\\\ inside: digits:"lr,decay"=0.1
    digest      sha256:<64 lowercase hex>    (bare hex is read too)
    duration    a positive whole number and a unit: 90s, 15m, 12h, 30d, 2w
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from .._exceptions import InvalidArgumentError

__all__ = [
    "MAX_KEY_LEN",
    "MAX_MODEL_VERSION",
    "MAX_NAME_LEN",
    "Digest",
    "ModelRef",
    "RunSelector",
    "check_actor",
    "check_alias_name",
    "check_artifact_path",
    "check_key",
    "check_model_name",
    "check_model_version",
    "check_name",
    "check_package_name",
    "is_model_version",
    "is_run_id",
    "parse_duration",
    "parse_model_ref",
    "parse_selector",
]

MAX_NAME_LEN = 250
MAX_KEY_LEN = 250

_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,249}$")
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]{0,249}$")
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


# -- keys and names ------------------------------------------------------------------------------
def check_key(kind: str, key: object) -> str:
    """Return ``key`` if it is a usable metric/param/tag key.

    Raises:
        InvalidArgumentError: it is not a string, is empty, has leading/trailing spaces, is
            longer than 250 characters or holds control characters; the message names ``kind``.
    """
    if not isinstance(key, str):
        raise InvalidArgumentError(f"{kind} key must be a string, got {type(key).__name__}")
    if not key or key.strip() != key:
        raise InvalidArgumentError(f"{kind} key {key!r} is empty or has leading/trailing spaces")
    if len(key) > MAX_KEY_LEN:
        raise InvalidArgumentError(
            f"{kind} key {key[:40]!r}... is {len(key)} characters long; the limit is {MAX_KEY_LEN}"
        )
    if any(ord(c) < 32 for c in key):
        raise InvalidArgumentError(f"{kind} key {key!r} contains control characters")
    return key


def check_name(kind: str, name: object) -> str:
    """Return ``name`` if it is a usable experiment/run/dataset name (the key rule).

    Raises:
        InvalidArgumentError: it is not.
    """
    return check_key(kind + " name", name)


def check_actor(actor: object, field: str = "actor") -> str:
    """Return ``actor`` (who a write is recorded as) if it is a non-empty line of at most 250
    characters.

    Raises:
        InvalidArgumentError: it is not; the message names ``field``.
    """
    if not isinstance(actor, str) or not actor.strip() or len(actor) > MAX_NAME_LEN:
        raise InvalidArgumentError(
            f"{field} must be a non-empty string of at most {MAX_NAME_LEN} characters"
        )
    if any(ord(c) < 32 for c in actor):
        raise InvalidArgumentError(f"{field} must not contain control characters")
    return actor


MAX_ARTIFACT_PATH_LEN = 1000


def check_artifact_path(path: object, what: str = "artifact path", *, exact: bool = False) -> str:
    """Return a run artifact path (``"model/weights/x.skops"``) in its one spelling: relative,
    ``/``-separated, no empty, ``.`` or ``..`` parts (so it can never leave a download folder);
    surrounding slashes are dropped, unless ``exact`` (paths from a request: an absolute path
    is refused, not reinterpreted).

    Raises:
        InvalidArgumentError: it is not such a path (the message names ``what``).
    """
    if not isinstance(path, str):
        raise InvalidArgumentError(f"{what} must be a string")
    if exact and (path.startswith("/") or path.endswith("/") or path[1:3] in (":/", ":\\")):
        raise InvalidArgumentError(f"{what} must be relative (no leading or trailing '/')")
    clean = path.strip("/")
    parts = clean.split("/")
    if (
        not clean
        or len(clean) > MAX_ARTIFACT_PATH_LEN
        or "\\" in clean
        or any(p in ("", ".", "..") or any(ord(c) < 32 for c in p) for p in parts)
    ):
        raise InvalidArgumentError(
            f"{what} {path[:80]!r} is invalid: use a relative path of '/'-separated names "
            f"without '.' or '..' parts (at most {MAX_ARTIFACT_PATH_LEN} characters)"
        )
    return clean


_DURATION = re.compile(r"^([1-9][0-9]{0,6})([smhdw])$")
_DURATION_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: object, what: str = "duration") -> timedelta:
    """Read a duration such as ``30d`` (units ``s``, ``m``, ``h``, ``d``, ``w``).

    Raises:
        InvalidArgumentError: it is not a positive whole number followed by one unit; the
            message names ``what``.

    Example:
        >>> parse_duration("30d").days
        30
    """
    m = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if m is None:
        raise InvalidArgumentError(
            f"{what} must be a positive whole number and a unit (s, m, h, d, w), e.g. 30d"
        )
    return timedelta(seconds=int(m.group(1)) * _DURATION_UNIT[m.group(2)])


def is_run_id(text: object) -> bool:
    """Whether ``text`` is a run id (32 lowercase hex characters)."""
    return isinstance(text, str) and _RUN_ID.match(text) is not None


# -- model names and references ------------------------------------------------------------------
def check_package_name(name: object) -> str:
    """Return ``name`` if a package may carry it: non-empty, without '/' or '@' (so it can never
    be read as a version or an alias). A package served from a folder may use any other
    character; registering it needs a model name (:func:`check_model_name`).

    Raises:
        InvalidArgumentError: it may not.
    """
    if not isinstance(name, str) or not name or "/" in name or "@" in name:
        raise InvalidArgumentError("name must be non-empty and contain neither '/' nor '@'")
    return name


def check_model_name(name: object) -> str:
    """Return ``name`` if it is a valid model name (letters, digits, ``_.-``, at most 250).

    Raises:
        InvalidArgumentError: it is not.
    """
    if not isinstance(name, str) or not _MODEL_NAME.match(name):
        raise InvalidArgumentError(
            f"model name {name[:80]!r} is invalid: use letters, digits, '_', '.', '-' (at most 250)"
            if isinstance(name, str)
            else "model name must be a string"
        )
    return name


MAX_MODEL_VERSION = 2**31 - 1
"""The largest model version number (an INTEGER column on every SQL backend)."""


def is_model_version(version: object) -> bool:
    """Whether ``version`` could be a stored model version number (1..2**31-1; a larger one is
    simply not found)."""
    return (
        isinstance(version, int)
        and not isinstance(version, bool)
        and 1 <= version <= MAX_MODEL_VERSION
    )


def check_model_version(version: object) -> int:
    """Return ``version`` if it is a model version number one may ask for (1..2**31-1).

    Raises:
        InvalidArgumentError: it is not.
    """
    if not is_model_version(version):
        raise InvalidArgumentError(f"version must be an integer from 1 to {MAX_MODEL_VERSION}")
    return version  # type: ignore[return-value]


def check_alias_name(alias: object) -> str:
    """Return ``alias`` if valid: it starts with a letter, so it never looks like a version.

    Raises:
        InvalidArgumentError: it is not.
    """
    if not isinstance(alias, str) or not _ALIAS.match(alias):
        raise InvalidArgumentError(
            "alias must start with a letter and contain only letters, digits, '_', '.', '-'"
        )
    return alias


@dataclass(frozen=True)
class ModelRef:
    """A reference to a registered model: ``name`` (latest), ``name/3`` or ``name@alias``."""

    name: str
    version: int | None = None
    alias: str | None = None

    @property
    def follows_alias(self) -> bool:
        """Whether the reference can move (an alias)."""
        return self.alias is not None

    def __str__(self) -> str:
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        if self.version is not None:
            return f"{self.name}/{self.version}"
        return self.name


def parse_model_ref(text: object) -> ModelRef:
    """Parse ``name``, ``name/3`` or ``name@alias``.

    Raises:
        InvalidArgumentError: a malformed reference (the message shows at most 120 characters).
    """
    if not isinstance(text, str):
        raise InvalidArgumentError("a model reference must be a string")
    if "@" in text:
        name, _, alias = text.partition("@")
        if not name or not alias:
            raise InvalidArgumentError(f"malformed model reference {text[:120]!r} (use name@alias)")
        return ModelRef(name, alias=alias)
    if "/" in text:
        name, _, number = text.rpartition("/")
        if not name or not number.isdigit():
            raise InvalidArgumentError(
                f"malformed model reference {text[:120]!r} (use name/version)"
            )
        return ModelRef(name, version=int(number))
    return ModelRef(text)


# -- run selectors -------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunSelector:
    """A group of runs: an experiment with param/tag filters, or explicit run ids.

    Written ``digits:model=logreg,lr=0.1`` (params), ``digits:tag.stage=final`` (a tag),
    ``runs:ID1,ID2`` or just ``ID1,ID2`` (32-character run ids); see the module docstring for
    quoting. Two selectors that select the same runs compare equal whatever their spelling.
    """

    text: str = field(compare=False)
    experiment: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    run_ids: tuple[str, ...] = ()

    def __hash__(self) -> int:
        return hash(
            (
                self.experiment,
                tuple(sorted(self.params.items())),
                tuple(sorted(self.tags.items())),
                self.run_ids,
            )
        )


_SPECIAL = frozenset(',=:"\\')


def quote(text: str, *, force: bool = False) -> str:
    """``text`` as it must be written inside a selector (quoted when it holds , = : or ",
    or when ``force``)."""
    if not force and not any(c in _SPECIAL for c in text) and text.strip() == text:
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_selector(
    experiment: str, params: Mapping[str, str] | None = None, tags: Mapping[str, str] | None = None
) -> str:
    """The selector text that selects ``experiment``'s runs with these params and tags."""
    # a param key spelled like a tag filter is quoted, which makes it literal
    items = [
        f"{quote(k, force=k.startswith('tag.'))}={quote(v)}" for k, v in (params or {}).items()
    ]
    items += [f"tag.{quote(k)}={quote(v)}" for k, v in (tags or {}).items()]
    return quote(experiment) + (":" + ",".join(items) if items else "")


@dataclass(frozen=True)
class _Token:
    text: str
    quoted: bool = False  # some of it was in quotes: taken literally
    plain_start: str = ""  # what came before the first quote (to spot ``tag."..."``)
    quoted_end: int = 0  # where the last quoted part ends in ``text``

    @property
    def word(self) -> str:
        if not self.quoted:
            return self.text.strip()
        # spaces around the quotes are layout; those inside are kept
        inner = self.text[len(self.plain_start) : self.quoted_end]
        return self.plain_start.lstrip() + inner + self.text[self.quoted_end :].rstrip()

    def is_sep(self, sep: str) -> bool:
        return not self.quoted and self.text == sep


def _tokens(raw: str) -> list[_Token]:
    """Split a selector into words and the separators ``:``, ``,`` and ``=``."""
    out: list[_Token] = []
    word: list[str] = []
    quoted = False
    plain_start = ""
    quoted_end = 0
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == '"':
            if not quoted:
                plain_start = "".join(word)
            quoted = True
            i += 1
            while i < len(raw) and raw[i] != '"':
                if raw[i] == "\\" and i + 1 < len(raw):
                    i += 1
                word.append(raw[i])
                i += 1
            if i >= len(raw):
                raise InvalidArgumentError(f"selector {raw[:120]!r}: a quote is not closed")
            quoted_end = len(word)
            i += 1
            continue
        if c in ",=:":
            out.append(_Token("".join(word), quoted, plain_start, quoted_end))
            out.append(_Token(c))
            word, quoted, plain_start, quoted_end = [], False, "", 0
        else:
            word.append(c)
        i += 1
    out.append(_Token("".join(word), quoted, plain_start, quoted_end))
    return out


def parse_selector(text: object) -> RunSelector:
    """Parse a run selector (see :class:`RunSelector` and the module docstring).

    Raises:
        InvalidArgumentError: the selector is empty, names no experiment, a filter is not
            ``key=value``, a key is not a valid key, or a run id is malformed.
    """
    raw = text.strip() if isinstance(text, str) else ""
    if not raw:
        raise InvalidArgumentError("a run selector must not be empty")
    shown = raw[:120]
    body = raw[len("runs:") :] if raw.startswith("runs:") else raw
    parts = [p.strip() for p in body.split(",") if p.strip()]
    if raw.startswith("runs:") or (parts and all(is_run_id(p) for p in parts)):
        # after runs: each part is a run reference (an id, a unique id prefix or a run name),
        # resolved against the store by Client.find_run
        if not parts:
            raise InvalidArgumentError(
                f"selector {shown!r} names no run (write runs:ID,ID with ids, prefixes or names)"
            )
        return RunSelector(text=raw, run_ids=tuple(parts))
    tokens = _tokens(raw)
    experiment = tokens[0].word
    if not experiment:
        raise InvalidArgumentError(
            f"selector {shown!r} names no experiment (write experiment:key=value)"
        )
    params: dict[str, str] = {}
    tags: dict[str, str] = {}
    if len(tokens) > 1:
        if not tokens[1].is_sep(":"):
            raise InvalidArgumentError(
                f"selector {shown!r}: write experiment:key=value (the experiment comes first)"
            )
        items: list[list[_Token]] = [[]]
        for tok in tokens[2:]:
            if tok.is_sep(","):
                items.append([])
            else:
                items[-1].append(tok)
        for item in items:
            if all(not t.word and not t.quoted for t in item):
                continue  # an empty item: a trailing or doubled comma
            if len(item) < 3 or not item[1].is_sep("=") or not (item[0].word or item[0].quoted):
                shown_item = "".join(t.text for t in item).strip()
                raise InvalidArgumentError(
                    f"selector {shown!r}: filter {shown_item[:80]!r} must look like key=value"
                )
            key, rest = item[0], item[2:]
            if len(rest) == 1:
                value = rest[0].word
            elif any(t.quoted for t in rest):
                shown_item = "".join(t.text for t in item).strip()
                raise InvalidArgumentError(
                    f"selector {shown!r}: quote the whole value of {shown_item[:80]!r}"
                )
            else:  # an unquoted value may hold '=' and ':' (everything after the first '=')
                value = "".join(t.text for t in rest).strip()
            unquoted_start = key.plain_start.lstrip() if key.quoted else key.word
            if unquoted_start.startswith("tag."):  # a quoted "tag.x" is a param named so
                tags[check_key("tag", key.word[len("tag.") :])] = value
            else:
                params[check_key("param", key.word)] = value
    return RunSelector(text=raw, experiment=experiment, params=params, tags=tags)


# -- digests -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Digest:
    """A SHA-256 digest. Its one textual form is ``sha256:<64 lowercase hex>`` (``str()``);
    blob keys and manifest entries store the bare hex (``.hex``).
    """

    hex: str

    def __post_init__(self) -> None:
        if not isinstance(self.hex, str) or not _HEX64.match(self.hex):
            raise InvalidArgumentError("a digest is 64 lowercase hex characters")

    @classmethod
    def parse(cls, text: object) -> Digest:
        """Read ``sha256:<hex>`` (or the bare hex).

        Raises:
            InvalidArgumentError: anything else (the message shows at most 80 characters).
        """
        if isinstance(text, str):
            bare = text.removeprefix("sha256:")
            if _HEX64.match(bare):
                return cls(bare)
        shown = text[:80] if isinstance(text, str) else type(text).__name__
        raise InvalidArgumentError(f"not a SHA-256 digest: {shown!r} (write sha256:<64 hex>)")

    @staticmethod
    def is_hex(text: object) -> bool:
        """Whether ``text`` is the bare hex of a digest (64 lowercase hex characters)."""
        return isinstance(text, str) and _HEX64.match(text) is not None

    @staticmethod
    def is_canonical(text: object) -> bool:
        """Whether ``text`` is a digest in its one textual form, ``sha256:<64 lowercase hex>``."""
        return (
            isinstance(text, str)
            and text.startswith("sha256:")
            and _HEX64.match(text[len("sha256:") :]) is not None
        )

    def __str__(self) -> str:
        return f"sha256:{self.hex}"

    def short(self, n: int = 12) -> str:
        """An abbreviation for people: ``sha256:<first n hex>…``."""
        return f"sha256:{self.hex[:n]}…"
