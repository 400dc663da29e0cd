"""Core: the domain. Frozen records, the grammars, statistics, hashing, fingerprints and the
predictions file format. Pure: imports nothing of labline but the ground (exceptions), and no
I/O framework (no SQLAlchemy, no web server, no CLI toolkit)."""

from ._grammar import check_artifact_path as check_artifact_path
from ._grammar import format_selector as format_selector
from ._json import to_jsonable as to_jsonable
from ._profile import CategoricalSketch as CategoricalSketch
from ._profile import NumericSketch as NumericSketch
from ._profile import ReferenceProfile as ReferenceProfile
from ._profile import build_profile as build_profile
from ._profile import feature_columns as feature_columns
from ._review import ReviewDecision as ReviewDecision
from ._review import ReviewItem as ReviewItem
from ._review import ReviewItemDraft as ReviewItemDraft
from ._review_render import image_grid as image_grid
from ._review_render import input_kind as input_kind
from ._review_render import render_png as render_png
from ._run_query import Field as Field
from ._run_query import FieldKind as FieldKind

__all__ = [
    "CategoricalSketch",
    "Field",
    "FieldKind",
    "NumericSketch",
    "ReferenceProfile",
    "ReviewDecision",
    "ReviewItem",
    "ReviewItemDraft",
    "build_profile",
    "check_artifact_path",
    "feature_columns",
    "format_selector",
    "image_grid",
    "input_kind",
    "render_png",
    "to_jsonable",
]
