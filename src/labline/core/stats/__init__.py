"""Paired, seed-aware statistics for comparing models. Pure numpy/scipy; no I/O.

Typical use::

    from labline.core import stats
    data = stats.encode_groups(stats.get_metric("accuracy"), y_true,
                               [stats.Predictions(pred_a)], [stats.Predictions(pred_b)])
    analysis = stats.analyze_difference(data, alpha=0.05, margin=0.01, rng=0)
    analysis.verdict, analysis.estimate, (analysis.ci_low, analysis.ci_high)
"""

from ._bootstrap import BootstrapResult as BootstrapResult
from ._bootstrap import bootstrap_difference as bootstrap_difference
from ._bootstrap import bootstrap_p_value as bootstrap_p_value
from ._bootstrap import percentile_interval as percentile_interval
from ._classical import McNemarResult as McNemarResult
from ._classical import holm_bonferroni as holm_bonferroni
from ._classical import mcnemar_exact as mcnemar_exact
from ._classical import mcnemar_from_encoded as mcnemar_from_encoded
from ._classical import probability_of_improvement as probability_of_improvement
from ._classical import probability_of_improvement_ci as probability_of_improvement_ci
from ._classical import seeds_needed as seeds_needed
from ._classical import tost_from_bootstrap as tost_from_bootstrap
from ._classical import tost_paired_t as tost_paired_t
from ._data import EncodedGroups as EncodedGroups
from ._data import Predictions as Predictions
from ._data import encode_groups as encode_groups
from ._delong import DeLongResult as DeLongResult
from ._delong import delong_from_encoded as delong_from_encoded
from ._delong import delong_test as delong_test
from ._drift import AccuracyEstimate as AccuracyEstimate
from ._drift import DriftReport as DriftReport
from ._drift import FeatureDrift as FeatureDrift
from ._drift import chi2_two_sample as chi2_two_sample
from ._drift import drift_report as drift_report
from ._drift import estimate_accuracy as estimate_accuracy
from ._drift import feature_drift as feature_drift
from ._drift import jensen_shannon_distance as jensen_shannon_distance
from ._drift import ks_two_sample as ks_two_sample
from ._drift import population_stability_index as population_stability_index
from ._expected_best import BudgetComparison as BudgetComparison
from ._expected_best import ExpectedBestCurve as ExpectedBestCurve
from ._expected_best import budget_crossings as budget_crossings
from ._expected_best import compare_expected_best as compare_expected_best
from ._expected_best import expected_best_band as expected_best_band
from ._expected_best import expected_best_dodge as expected_best_dodge
from ._expected_best import expected_best_tang as expected_best_tang
from ._expected_best import expected_best_weights as expected_best_weights
from ._metrics import METRIC_NAMES as METRIC_NAMES
from ._metrics import Metric as Metric
from ._metrics import get_metric as get_metric
from ._metrics import higher_is_better_by_name as higher_is_better_by_name
from ._permutation import PermutationResult as PermutationResult
from ._permutation import paired_permutation_test as paired_permutation_test
from ._runs import TTestResult as TTestResult
from ._runs import analyze_run_values as analyze_run_values
from ._runs import pair_by_seed as pair_by_seed
from ._runs import paired_t_test as paired_t_test
from ._runs import run_bootstrap as run_bootstrap
from ._runs import run_permutation_test as run_permutation_test
from ._runs import welch_t_test as welch_t_test
from ._seeds import analyze_seed_values as analyze_seed_values
from ._verdict import CrossCheck as CrossCheck
from ._verdict import DifferenceAnalysis as DifferenceAnalysis
from ._verdict import Verdict as Verdict
from ._verdict import analyze_difference as analyze_difference
from ._verdict import apply_holm as apply_holm
from ._verdict import check_margin_and_min_effect as check_margin_and_min_effect
from ._verdict import decide_verdict as decide_verdict
from ._verdict import poi_is_too_wide as poi_is_too_wide

__all__ = [
    "METRIC_NAMES",
    "AccuracyEstimate",
    "BootstrapResult",
    "BudgetComparison",
    "CrossCheck",
    "DeLongResult",
    "DifferenceAnalysis",
    "DriftReport",
    "EncodedGroups",
    "ExpectedBestCurve",
    "FeatureDrift",
    "McNemarResult",
    "Metric",
    "PermutationResult",
    "Predictions",
    "TTestResult",
    "Verdict",
    "analyze_difference",
    "analyze_run_values",
    "analyze_seed_values",
    "apply_holm",
    "bootstrap_difference",
    "bootstrap_p_value",
    "budget_crossings",
    "check_margin_and_min_effect",
    "chi2_two_sample",
    "compare_expected_best",
    "decide_verdict",
    "delong_from_encoded",
    "delong_test",
    "drift_report",
    "encode_groups",
    "estimate_accuracy",
    "expected_best_band",
    "expected_best_dodge",
    "expected_best_tang",
    "expected_best_weights",
    "feature_drift",
    "get_metric",
    "higher_is_better_by_name",
    "holm_bonferroni",
    "jensen_shannon_distance",
    "ks_two_sample",
    "mcnemar_exact",
    "mcnemar_from_encoded",
    "pair_by_seed",
    "paired_permutation_test",
    "paired_t_test",
    "percentile_interval",
    "poi_is_too_wide",
    "population_stability_index",
    "probability_of_improvement",
    "probability_of_improvement_ci",
    "run_bootstrap",
    "run_permutation_test",
    "seeds_needed",
    "tost_from_bootstrap",
    "tost_paired_t",
    "welch_t_test",
]
