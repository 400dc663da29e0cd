"""Ray Tune on labline: :func:`trainable` makes each Tune trial (any search algorithm,
``OptunaSearch`` included) a trial of a labline sweep, logged from the Ray workers; inside
it, :func:`report` logs results as the trial run's metrics and passes them on to Tune.

Needs the ``ray`` extra (``pip install 'labline[ray]'``).
"""

from ._tune import LablineTrainable as LablineTrainable
from ._tune import current_trial as current_trial
from ._tune import report as report
from ._tune import run_config as run_config
from ._tune import trainable as trainable

__all__ = ["LablineTrainable", "current_trial", "report", "run_config", "trainable"]
