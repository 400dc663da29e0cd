"""How a review item's inputs are shown to people: which kind they are (an image such as the
8×8 digits, a table row, text, plain values) and a small PNG for image inputs.

The PNG encoder is written here on ``zlib`` (8-bit grayscale, one IDAT chunk) so that rendering
needs no imaging library.
"""

from __future__ import annotations

import base64
import math
import struct
import zlib
from collections.abc import Mapping
from typing import Any, Literal

from .._exceptions import InvalidArgumentError

__all__ = ["InputKind", "image_grid", "input_kind", "png_data_url", "render_png"]

InputKind = Literal["image", "table", "text", "values"]

_MAX_SIDE = 256


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def image_grid(inputs: Any) -> list[list[float]] | None:
    """The inputs as a square grid of numbers when they look like a grayscale image: a flat
    list of n² numbers (n from 4 to 256, e.g. the 64 pixels of an 8×8 digit) or a list of
    equal-length rows of numbers. ``None`` otherwise."""
    if isinstance(inputs, Mapping) and len(inputs) == 1:
        inputs = next(iter(inputs.values()))
    if not isinstance(inputs, list) or not inputs:
        return None
    if all(isinstance(r, list) for r in inputs):
        if len(inputs) == 1 and inputs[0] and all(_is_number(x) for x in inputs[0]):
            return image_grid(inputs[0])  # one row of a batch
        width = len(inputs[0])
        if (
            2 <= len(inputs) <= _MAX_SIDE
            and 2 <= width <= _MAX_SIDE
            and all(len(r) == width and all(_is_number(x) for x in r) for r in inputs)
        ):
            return [[float(x) for x in r] for r in inputs]
        return None
    n = math.isqrt(len(inputs))
    if 4 <= n <= _MAX_SIDE and n * n == len(inputs) and all(_is_number(x) for x in inputs):
        return [[float(x) for x in inputs[i * n : (i + 1) * n]] for i in range(n)]
    return None


def input_kind(inputs: Any) -> InputKind:
    """How to show ``inputs``: ``image`` (see :func:`image_grid`), ``table`` (a mapping of
    column to value), ``text`` (a string, or a mapping/list holding one string) or ``values``."""
    if image_grid(inputs) is not None:
        return "image"
    if isinstance(inputs, str):
        return "text"
    if isinstance(inputs, list) and len(inputs) == 1 and isinstance(inputs[0], str):
        return "text"
    if isinstance(inputs, Mapping):
        if len(inputs) == 1 and isinstance(next(iter(inputs.values())), str):
            return "text"
        return "table"
    return "values"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def render_png(grid: list[list[float]], *, scale: int = 1, ink_is_high: bool = True) -> bytes:
    """Encode a grid of numbers as an 8-bit grayscale PNG.

    Values are scaled from the grid's min..max to 0..255; with ``ink_is_high`` a high value is
    drawn dark (as the digits' 0..16 ink intensity), otherwise light.

    Args:
        grid: rows of numbers, equal lengths.
        scale: each value becomes a ``scale`` × ``scale`` block (1..64).
        ink_is_high: draw high values dark.

    Returns:
        The PNG file's bytes.

    Raises:
        InvalidArgumentError: an empty or ragged grid, or a bad scale.
    """
    if not grid or not grid[0] or any(len(r) != len(grid[0]) for r in grid):
        raise InvalidArgumentError("an image needs equal-length, non-empty rows")
    if isinstance(scale, bool) or not isinstance(scale, int) or not 1 <= scale <= 64:
        raise InvalidArgumentError("scale must be an integer from 1 to 64")
    lo = min(min(r) for r in grid)
    hi = max(max(r) for r in grid)
    span = hi - lo or 1.0
    raw = bytearray()
    for r in grid:
        levels = []
        for x in r:
            v = round(255 * (x - lo) / span)
            levels.append(255 - v if ink_is_high else v)
        row = bytes(v for v in levels for _ in range(scale))
        for _ in range(scale):
            raw.append(0)  # filter: none
            raw.extend(row)
    width, height = len(grid[0]) * scale, len(grid) * scale
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(raw), 9))
        + _chunk(b"IEND", b"")
    )


def png_data_url(grid: list[list[float]], *, scale: int = 1) -> str:
    """The PNG of ``grid`` as a ``data:image/png;base64,...`` URL."""
    return "data:image/png;base64," + base64.b64encode(render_png(grid, scale=scale)).decode()
