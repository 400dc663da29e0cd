"""Optuna on labline: :class:`Storage` is an ``optuna.storages.BaseStorage`` whose studies are
labline sweeps (a parent run) and whose trials are child runs.

Needs the ``sweeps`` extra (``pip install 'labline[sweeps]'``).
"""

from ._storage import Storage as Storage

__all__ = ["Storage"]
