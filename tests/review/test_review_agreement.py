"""Agreement and accuracy figures of the review queue, checked against scikit-learn and
statsmodels, on seeded simulated reviewers and through the queue itself."""

from __future__ import annotations

import numpy as np
import pytest
from review_support import draft, review_all
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss
from statsmodels.stats.proportion import proportion_confint

import labline
from labline.core.stats._agreement import cohen_kappa, fleiss_kappa, fleiss_table, wilson_interval


@pytest.mark.parametrize("seed", range(20))
def test_cohen_kappa_matches_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(5, 300)), int(rng.integers(2, 11))
    a = rng.integers(0, k, n)
    noise = rng.random(n) < rng.random()
    b = np.where(noise, rng.integers(0, k, n), a)
    ours = cohen_kappa(a.tolist(), b.tolist())
    ref = cohen_kappa_score(a, b)
    if np.isnan(ref):
        assert ours is None
    else:
        assert ours == pytest.approx(ref, abs=1e-12)


@pytest.mark.parametrize("seed", range(20))
def test_fleiss_kappa_matches_statsmodels(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n, k, raters = int(rng.integers(5, 200)), int(rng.integers(2, 8)), int(rng.integers(3, 7))
    truth = rng.integers(0, k, n)
    ratings = [
        [int(t) if rng.random() < 0.7 else int(rng.integers(0, k)) for _ in range(raters)]
        for t in truth
    ]
    table = fleiss_table(ratings)
    assert fleiss_kappa(table) == pytest.approx(sm_fleiss(table, method="fleiss"), abs=1e-12)


def test_undefined_and_bad_agreement() -> None:
    assert cohen_kappa([1, 1], [1, 1]) is None and cohen_kappa([], []) is None
    assert fleiss_kappa([[3, 0], [3, 0]]) is None
    with pytest.raises(labline.InvalidArgumentError):
        cohen_kappa([1], [1, 2])
    with pytest.raises(labline.InvalidArgumentError):
        fleiss_table([[1, 2], [1, 2, 3]])


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (57, 400), (1, 1)])
def test_wilson_matches_statsmodels(k: int, n: int) -> None:
    lo, hi = proportion_confint(k, n, method="wilson")
    assert wilson_interval(k, n) == pytest.approx((lo, hi), abs=1e-12)


def test_stats_through_the_queue(settings: labline.Settings) -> None:
    """Three reviewers label 40 items each needing 3 reviews: Fleiss' kappa from the queue
    equals statsmodels' on the same answers; audit accuracy equals the share of audit items
    whose reviewed label is the guess, with the Wilson interval."""
    rng = np.random.default_rng(5)
    truth = rng.integers(0, 4, 40).tolist()
    names = ("ann", "bob", "cy")
    answers = {
        n: [t if rng.random() < 0.8 else int(rng.integers(0, 4)) for t in truth] for n in names
    }
    clients = [labline.Client(settings, actor=n) for n in names]
    try:
        ids = clients[0].enqueue_review_items(
            [
                draft(
                    i,
                    guess=truth[i] if i % 3 else (truth[i] + 1) % 4,
                    reason="audit" if i % 2 else "deferred",
                )
                for i in range(40)
            ],
            reviews_needed=3,
        )
        index = {item_id: i for i, item_id in enumerate(ids)}
        for c in clients:
            review_all(c, lambda item, c=c: answers[c.actor][index[item.id]])
        stats = clients[0].review_stats()
    finally:
        for c in clients:
            c.close()
    assert stats.done == 40 and stats.total == 40 and stats.open == 0
    assert stats.decisions_by_reviewer == {"ann": 40, "bob": 40, "cy": 40}
    (agreement,) = stats.agreement
    ratings = [[answers[n][i] for n in names] for i in range(40)]
    assert agreement.method == "fleiss" and agreement.n_items == 40
    assert agreement.kappa == pytest.approx(sm_fleiss(fleiss_table(ratings)), abs=1e-12)
    # outcome = majority of the three answers (ties: disputed)
    guesses = [truth[i] if i % 3 else (truth[i] + 1) % 4 for i in range(40)]
    ok = n = audit_ok = audit_n = disputed = 0
    for i in range(40):
        votes = np.bincount(ratings[i], minlength=4)
        top = np.flatnonzero(votes == votes.max())
        if len(top) > 1:
            disputed += 1
            continue
        n += 1
        ok += int(top[0] == guesses[i])
        if i % 2:
            audit_n += 1
            audit_ok += int(top[0] == guesses[i])
    assert (stats.model_checked, stats.model_correct, stats.disputed) == (n, ok, disputed)
    assert (stats.audit_checked, stats.audit_correct) == (audit_n, audit_ok)
    assert stats.audit_ci == pytest.approx(proportion_confint(audit_ok, audit_n, method="wilson"))


def test_two_reviews_give_cohens_kappa(settings: labline.Settings) -> None:
    with labline.Client(settings, actor="ann") as ann, labline.Client(settings, actor="bob") as bob:
        ann.enqueue_review_items([draft(i) for i in range(12)], reviews_needed=2)
        a = [i % 3 for i in range(12)]
        b = [i % 3 if i < 8 else 0 for i in range(12)]
        review_all(ann, lambda item: a[int(item.request_id[4:])])
        review_all(bob, lambda item: b[int(item.request_id[4:])])
        (agreement,) = ann.review_stats().agreement
    assert agreement.method == "cohen" and agreement.n_items == 12
    assert agreement.kappa == pytest.approx(cohen_kappa_score(a, b))
