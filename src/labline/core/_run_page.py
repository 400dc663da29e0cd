"""RunPage: one page of run search results, list-like, with the token of the next page."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

from ._html import runs_html
from ._run_query import field_value, parse_field
from ._types import Run


@dataclass(frozen=True)
class RunPage(Sequence[Run]):
    """Runs found by a search, in order, and the token that fetches the page after them.

    Behaves like a read-only list of :class:`Run` (``len``, indexing, slicing, iteration)
    and compares equal to a list or tuple of the same runs.

    Attributes:
        runs: the runs of this page.
        next_page_token: pass it as ``page_token`` to the same search for the next page;
            None on the last page.
    """

    runs: tuple[Run, ...]
    next_page_token: str | None = None

    @overload
    def __getitem__(self, index: int) -> Run: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Run]: ...
    def __getitem__(self, index: int | slice) -> Run | Sequence[Run]:
        return self.runs[index]

    def __len__(self) -> int:
        return len(self.runs)

    def __iter__(self) -> Iterator[Run]:
        return iter(self.runs)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RunPage):
            return self.runs == other.runs and self.next_page_token == other.next_page_token
        if isinstance(other, list | tuple):
            return list(self.runs) == list(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.runs, self.next_page_token))

    def __repr__(self) -> str:
        more = f", next_page_token={self.next_page_token!r}" if self.next_page_token else ""
        return f"RunPage({len(self.runs)} runs{more})"

    def _repr_html_(self) -> str:
        return runs_html(self.runs, self.next_page_token)

    def to_records(self, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """One flat dict per run.

        Args:
            columns: fields to include, written as in filters (``name``, ``status``,
                ``params.lr``, ``metrics.loss.min``, ``tags.stage``; ``run_id``/``id``).
                By default: ``run_id``, ``experiment``, ``name``, ``status``, ``created_at``,
                ``ended_at``, then ``params.<key>`` (text), ``metrics.<key>`` (last value) and
                ``tags.<key>`` for every key any run of the page has.

        Returns:
            Dicts keyed by column as written; None where a run lacks the field.

        Raises:
            InvalidArgumentError: a column is not a field.
        """
        if columns is not None:
            parsed = [(c, parse_field(c)) for c in columns]
            return [{c: field_value(r, f) for c, f in parsed} for r in self.runs]
        params = sorted({k for r in self.runs for k in r.params})
        metrics = sorted({k for r in self.runs for k in r.metrics})
        tags = sorted({k for r in self.runs for k in r.tags})
        rows = []
        for r in self.runs:
            row: dict[str, Any] = {
                "run_id": r.id,
                "experiment": r.experiment,
                "name": r.name,
                "status": r.status.value,
                "created_at": r.created_at,
                "ended_at": r.ended_at,
            }
            row.update({f"params.{k}": r.params.get(k) for k in params})
            row.update(
                {
                    f"metrics.{k}": r.metrics[k].last_value if k in r.metrics else None
                    for k in metrics
                }
            )
            row.update({f"tags.{k}": r.tags.get(k) for k in tags})
            rows.append(row)
        return rows

    def to_pandas(self, columns: Sequence[str] | None = None) -> Any:
        """The page as a ``pandas.DataFrame``, one row per run (columns as in
        :meth:`to_records`; metrics as float with NaN where a run lacks one).

        Args:
            columns: the fields to include (see :meth:`to_records`); all by default.

        Raises:
            MissingDependencyError: pandas is not installed.
        """
        from .._imports import import_optional

        pd = import_optional("pandas", "pandas")
        records = self.to_records(columns)
        if columns is None:
            columns = list(records[0]) if records else ["run_id", "experiment", "name", "status"]
        frame = pd.DataFrame.from_records(records, columns=list(columns))
        for column in columns:
            if column.startswith("metrics."):
                frame[column] = frame[column].astype("float64")
        return frame
