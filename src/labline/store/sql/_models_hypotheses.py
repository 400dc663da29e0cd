"""ORM tables of the hypothesis store."""

from __future__ import annotations
