"""Agreement between reviewers: Cohen's kappa (two raters) and Fleiss' kappa (several raters
per item), and the Wilson score interval of a proportion. Pure numpy; checked against
scikit-learn's ``cohen_kappa_score`` and statsmodels' ``fleiss_kappa`` / ``proportion_confint``.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

import numpy as np
import numpy.typing as npt

from ..._exceptions import InvalidArgumentError

__all__ = ["cohen_kappa", "fleiss_kappa", "fleiss_table", "wilson_interval"]


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """Cohen's kappa of two raters who labelled the same items (unweighted).

    ``kappa = (p_o - p_e) / (1 - p_e)`` with ``p_o`` the observed agreement and ``p_e`` the
    agreement expected from each rater's own label frequencies.

    Args:
        a: the first rater's labels.
        b: the second rater's labels, item for item.

    Returns:
        Kappa in [-1, 1], or ``None`` when it is undefined (no items, or both raters always
        gave one and the same label, so ``p_e = 1``).

    Raises:
        InvalidArgumentError: the sequences differ in length.

    Example:
        >>> round(cohen_kappa([1, 1, 0, 0], [1, 0, 0, 0]), 3)
        0.5
    """
    if len(a) != len(b):
        raise InvalidArgumentError("both raters must label the same items")
    n = len(a)
    if n == 0:
        return None
    cats = {c: i for i, c in enumerate(dict.fromkeys([*a, *b]))}
    ia = np.fromiter((cats[x] for x in a), dtype=np.int64, count=n)
    ib = np.fromiter((cats[x] for x in b), dtype=np.int64, count=n)
    p_o = float(np.mean(ia == ib))
    fa = np.bincount(ia, minlength=len(cats)) / n
    fb = np.bincount(ib, minlength=len(cats)) / n
    p_e = float(fa @ fb)
    if p_e >= 1.0:
        return None
    return (p_o - p_e) / (1.0 - p_e)


def fleiss_table(ratings: Sequence[Sequence[Hashable]]) -> npt.NDArray[np.int64]:
    """The items × categories count table of items each rated by the same number of raters.

    Raises:
        InvalidArgumentError: items with different numbers of ratings, or fewer than two.
    """
    if not ratings:
        return np.zeros((0, 0), dtype=np.int64)
    sizes = {len(r) for r in ratings}
    if len(sizes) != 1 or min(sizes) < 2:
        raise InvalidArgumentError("every item needs the same number (>= 2) of ratings")
    cats = {c: i for i, c in enumerate(dict.fromkeys(x for r in ratings for x in r))}
    table = np.zeros((len(ratings), len(cats)), dtype=np.int64)
    for i, r in enumerate(ratings):
        for x in r:
            table[i, cats[x]] += 1
    return table


def fleiss_kappa(table: npt.ArrayLike) -> float | None:
    """Fleiss' kappa from an items × categories table of counts (each row sums to the number
    of raters per item, the same for every item).

    Returns:
        Kappa, or ``None`` when undefined (no items, or every rating in one category).

    Raises:
        InvalidArgumentError: rows with different sums, or fewer than two raters per item.

    Example:
        >>> round(fleiss_kappa([[3, 0], [0, 3], [2, 1]]), 3)
        0.55
    """
    t = np.asarray(table, dtype=np.float64)
    if t.ndim != 2 or t.shape[0] == 0:
        return None
    n_raters = t.sum(axis=1)
    if not np.all(n_raters == n_raters[0]) or n_raters[0] < 2:
        raise InvalidArgumentError("every item needs the same number (>= 2) of ratings")
    m = float(n_raters[0])
    p_j = t.sum(axis=0) / t.sum()
    p_i = ((t * t).sum(axis=1) - m) / (m * (m - 1))
    p_bar = float(p_i.mean())
    p_e = float((p_j * p_j).sum())
    if p_e >= 1.0:
        return None
    return (p_bar - p_e) / (1.0 - p_e)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion.

    Returns:
        ``(low, high)``; ``(0.0, 1.0)`` when ``n`` is 0.

    Example:
        >>> [round(x, 4) for x in wilson_interval(8, 10)]
        [0.4902, 0.9433]
    """
    if n <= 0:
        return (0.0, 1.0)
    from scipy import stats as sps  # lazy: keeps `import labline` fast

    z = float(sps.norm.ppf(0.5 + confidence / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))
