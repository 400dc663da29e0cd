"""labline: one loop for ML research and ML production.

Track runs, compare them with paired statistics, package and verify models, serve them.
Everything is a method of :class:`Client`; ``labline.start_run``, ``labline.compare``,
``labline.load_model`` and the other functions here are thin wrappers over a default client.
"""

from ._api import add_hypothesis as add_hypothesis
from ._api import calibrate as calibrate
from ._api import compare as compare
from ._api import evaluate_hypothesis as evaluate_hypothesis
from ._api import get_hypothesis as get_hypothesis
from ._api import list_hypotheses as list_hypotheses
from ._api import revise_hypothesis as revise_hypothesis
from ._api import start_run as start_run
from ._client import Client as Client
from ._compare import CandidateComparison as CandidateComparison
from ._compare import ComparisonReport as ComparisonReport
from ._exceptions import AlreadyExistsError as AlreadyExistsError
from ._exceptions import AuthenticationError as AuthenticationError
from ._exceptions import ConflictError as ConflictError
from ._exceptions import DigestMismatchError as DigestMismatchError
from ._exceptions import ImmutableError as ImmutableError
from ._exceptions import InfeasibleTargetError as InfeasibleTargetError
from ._exceptions import IntegrityError as IntegrityError
from ._exceptions import InvalidArgumentError as InvalidArgumentError
from ._exceptions import LablineError as LablineError
from ._exceptions import LocalArtifactsWarning as LocalArtifactsWarning
from ._exceptions import MissingDependencyError as MissingDependencyError
from ._exceptions import ModelError as ModelError
from ._exceptions import NotFoundError as NotFoundError
from ._exceptions import ParamConflictError as ParamConflictError
from ._exceptions import ParityError as ParityError
from ._exceptions import PayloadTooLargeError as PayloadTooLargeError
from ._exceptions import PermissionDeniedError as PermissionDeniedError
from ._exceptions import SchemaError as SchemaError
from ._exceptions import SchemaVersionError as SchemaVersionError
from ._exceptions import StorageError as StorageError
from ._exceptions import UnsupportedMediaTypeError as UnsupportedMediaTypeError
from ._monitor import MonitoringReport as MonitoringReport
from ._settings import Settings as Settings
from ._sweep_report import BestTrial as BestTrial
from ._sweep_report import SweepComparison as SweepComparison
from ._sweep_report import SweepSummary as SweepSummary
from ._sweeps import Sweeps as Sweeps
from ._tracking import ActiveRun as ActiveRun
from .core._alerts import AlertThresholds as AlertThresholds
from .core._calibration import Calibration as Calibration
from .core._calibration import CalibrationDraft as CalibrationDraft
from .core._fingerprint import Fingerprint as Fingerprint
from .core._fingerprint import fingerprint as fingerprint
from .core._grammar import Digest as Digest
from .core._grammar import ModelRef as ModelRef
from .core._grammar import RunSelector as RunSelector
from .core._grammar import parse_model_ref as parse_model_ref
from .core._grammar import parse_selector as parse_selector
from .core._review import AuditAccuracy as AuditAccuracy
from .core._review import LabelledDataset as LabelledDataset
from .core._review import LabelledExample as LabelledExample
from .core._review import ReviewAgreement as ReviewAgreement
from .core._review import ReviewDecision as ReviewDecision
from .core._review import ReviewImportReport as ReviewImportReport
from .core._review import ReviewItem as ReviewItem
from .core._review import ReviewItemDraft as ReviewItemDraft
from .core._review import ReviewStats as ReviewStats
from .core._run_page import RunPage as RunPage
from .core._sweep_config import SweepConfig as SweepConfig
from .core._types import ArtifactRecord as ArtifactRecord
from .core._types import BadBlob as BadBlob
from .core._types import BlobVerification as BlobVerification
from .core._types import ClassMetrics as ClassMetrics
from .core._types import DatasetRecord as DatasetRecord
from .core._types import Experiment as Experiment
from .core._types import GcReport as GcReport
from .core._types import Hypothesis as Hypothesis
from .core._types import HypothesisProgress as HypothesisProgress
from .core._types import HypothesisStatus as HypothesisStatus
from .core._types import IssuedToken as IssuedToken
from .core._types import LoggedModel as LoggedModel
from .core._types import MeanInterval as MeanInterval
from .core._types import MetricSeries as MetricSeries
from .core._types import MetricSummary as MetricSummary
from .core._types import MlflowImportReport as MlflowImportReport
from .core._types import MlflowModel as MlflowModel
from .core._types import MlflowModelStatus as MlflowModelStatus
from .core._types import PredictionsRecord as PredictionsRecord
from .core._types import PredictionsSummary as PredictionsSummary
from .core._types import Role as Role
from .core._types import Run as Run
from .core._types import RunGroup as RunGroup
from .core._types import RunStatus as RunStatus
from .core._types import SchemaStatus as SchemaStatus
from .core._types import SeedBand as SeedBand
from .core._types import SeriesEnvelope as SeriesEnvelope
from .core._types import Sweep as Sweep
from .core._types import TokenRecord as TokenRecord
from .core._types import Trial as Trial
from .core._types import TrialParam as TrialParam
from .core._types import TrialState as TrialState
from .core._types import WorstExample as WorstExample
from .core.stats import Metric as Metric
from .core.stats import Verdict as Verdict
from .models import FieldSpec as FieldSpec
from .models import LoadedModel as LoadedModel
from .models import load_model as load_model

__version__ = "0.1.0"


__all__ = [
    "ActiveRun",
    "AlertThresholds",
    "AlreadyExistsError",
    "ArtifactRecord",
    "AuditAccuracy",
    "AuthenticationError",
    "BadBlob",
    "BestTrial",
    "BlobVerification",
    "Calibration",
    "CalibrationDraft",
    "CandidateComparison",
    "ClassMetrics",
    "Client",
    "ComparisonReport",
    "ConflictError",
    "DatasetRecord",
    "Digest",
    "DigestMismatchError",
    "Experiment",
    "FieldSpec",
    "Fingerprint",
    "GcReport",
    "Hypothesis",
    "HypothesisProgress",
    "HypothesisStatus",
    "ImmutableError",
    "InfeasibleTargetError",
    "IntegrityError",
    "InvalidArgumentError",
    "IssuedToken",
    "LabelledDataset",
    "LabelledExample",
    "LablineError",
    "LoadedModel",
    "LocalArtifactsWarning",
    "LoggedModel",
    "MeanInterval",
    "Metric",
    "MetricSeries",
    "MetricSummary",
    "MissingDependencyError",
    "MlflowImportReport",
    "MlflowModel",
    "MlflowModelStatus",
    "ModelError",
    "ModelRef",
    "MonitoringReport",
    "NotFoundError",
    "ParamConflictError",
    "ParityError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PredictionsRecord",
    "PredictionsSummary",
    "ReviewAgreement",
    "ReviewDecision",
    "ReviewImportReport",
    "ReviewItem",
    "ReviewItemDraft",
    "ReviewStats",
    "Role",
    "Run",
    "RunGroup",
    "RunPage",
    "RunSelector",
    "RunStatus",
    "SchemaError",
    "SchemaStatus",
    "SchemaVersionError",
    "SeedBand",
    "SeriesEnvelope",
    "Settings",
    "StorageError",
    "Sweep",
    "SweepComparison",
    "SweepConfig",
    "SweepSummary",
    "Sweeps",
    "TokenRecord",
    "Trial",
    "TrialParam",
    "TrialState",
    "UnsupportedMediaTypeError",
    "Verdict",
    "WorstExample",
    "add_hypothesis",
    "calibrate",
    "compare",
    "evaluate_hypothesis",
    "fingerprint",
    "get_hypothesis",
    "list_hypotheses",
    "load_model",
    "parse_model_ref",
    "parse_selector",
    "revise_hypothesis",
    "start_run",
]

# Public objects name the package they are used from, not the private module defining them.
for _name in __all__:
    globals()[_name].__module__ = "labline"
del _name
