"""How a chunk of metric points is packed into the binary columns of ``metric_chunks``.

Values are always stored raw. Steps and timestamps are nearly always regular (steps 0, 1, 2, ...;
timestamps from the tracking writer's coarse clock, equal for many points in a row), so each is
stored in whichever of two codecs is smaller, named in its ``*_codec`` column:

* ``raw``: ``n`` little-endian items (int64 steps, float64 timestamps and values).
* ``runs`` (steps): ``r`` int64 positions, then ``r`` int64 starts, then ``r`` int64 strides.
  The point at position ``i`` of run ``j`` (``pos[j] <= i < pos[j+1]``) has step
  ``start[j] + stride[j] * (i - pos[j])`` in int64 arithmetic.
* ``rle`` (timestamps): ``r`` int64 positions, then ``r`` float64 values; each point has the value
  of the run it falls in. Equality is bitwise, so NaN and -0.0 come back exactly.

A chunk of a million steps 0..999,999 is 24 bytes instead of 8 MB.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..._exceptions import StorageError

RAW, RUNS, RLE = "raw", "runs", "rle"


def encode_steps(steps: npt.NDArray[np.int64]) -> tuple[str, bytes]:
    """Return ``(codec, blob)`` for int64 steps: arithmetic runs if smaller than raw."""
    st = np.ascontiguousarray(steps, dtype="<i8")
    n = len(st)
    if n > 3:
        # d[k] = st[k+1] - st[k] wraps like the decoder's arithmetic, so runs are exact
        d = np.diff(st)
        starts = np.concatenate(([0], np.flatnonzero(d[1:] != d[:-1]) + 1))
        if 24 * len(starts) < 8 * n:
            strides = d[starts]  # the last run has >= 2 points, so d[start] exists
            blob = np.concatenate((starts.astype("<i8"), st[starts], strides)).tobytes()
            return RUNS, blob
    return RAW, st.tobytes()


def decode_steps(codec: str, blob: bytes, n: int) -> npt.NDArray[np.int64]:
    """Inverse of :func:`encode_steps` for a chunk of ``n`` points.

    Raises:
        StorageError: the stored chunk does not decode to ``n`` steps.
    """
    words = np.frombuffer(blob, dtype="<i8")
    if codec == RAW and len(words) == n:
        return words
    if codec == RUNS and len(words) % 3 == 0 and len(words):
        r = len(words) // 3
        pos, start, stride = words[:r], words[r : 2 * r], words[2 * r :]
        lengths = np.diff(np.append(pos, n))
        steps: npt.NDArray[np.int64]
        if r == 1 and pos[0] == 0 and n > 0:  # the usual case: in place, no temporaries
            steps = np.arange(n, dtype=np.int64)
            steps *= stride[0]
            steps += start[0]
            return steps
        if pos[0] == 0 and np.all(lengths > 0):
            offsets = np.arange(n, dtype=np.int64) - np.repeat(pos, lengths)
            steps = np.repeat(start, lengths) + np.repeat(stride, lengths) * offsets
            return steps
    raise StorageError(f"a stored metric chunk has unreadable steps (codec {codec!r}, {n} points)")


def encode_timestamps(timestamps: npt.NDArray[np.float64]) -> tuple[str, bytes]:
    """Return ``(codec, blob)`` for float64 timestamps: runs of equal values if smaller."""
    ts = np.ascontiguousarray(timestamps, dtype="<f8")
    n = len(ts)
    if n > 2:
        bits = ts.view("<i8")
        starts = np.concatenate(([0], np.flatnonzero(bits[1:] != bits[:-1]) + 1))
        if 16 * len(starts) < 8 * n:
            return RLE, starts.astype("<i8").tobytes() + ts[starts].tobytes()
    return RAW, ts.tobytes()


def decode_timestamps(codec: str, blob: bytes, n: int) -> npt.NDArray[np.float64]:
    """Inverse of :func:`encode_timestamps` for a chunk of ``n`` points.

    Raises:
        StorageError: the stored chunk does not decode to ``n`` timestamps.
    """
    if codec == RAW and len(blob) == 8 * n:
        return np.frombuffer(blob, dtype="<f8")
    if codec == RLE and len(blob) % 16 == 0 and blob:
        r = len(blob) // 16
        pos = np.frombuffer(blob, dtype="<i8", count=r)
        values = np.frombuffer(blob, dtype="<f8", offset=8 * r)
        lengths = np.diff(np.append(pos, n))
        if pos[0] == 0 and np.all(lengths > 0):
            return np.repeat(values, lengths)
    raise StorageError(
        f"a stored metric chunk has unreadable timestamps (codec {codec!r}, {n} points)"
    )
