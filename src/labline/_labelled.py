"""Labels back into data: reviewed items become versioned, fingerprinted datasets, as methods
:class:`~labline.Client` inherits.

A version holds every done item whose reviewers agree on a class (rejected and disputed items
are left out and counted in its ``meta``), each with its lineage: label → decisions → review
item → the model's answer (request id) → model version and digest → calibration.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import _review_exchange
from ._exceptions import NotFoundError
from ._review import ReviewMethods
from .core._fingerprint import fingerprint
from .core._grammar import check_name
from .core._labelled_table import examples_table
from .core._review import LabelledDataset, LabelledExample, ReviewReason, item_outcome
from .store._labelled_base import LabelledRow

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["LabelledDatasetMethods"]


def _check_version(version: object) -> int | None:
    from ._exceptions import InvalidArgumentError

    if version is None:
        return None
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidArgumentError("version must be a positive integer")
    return version


class LabelledDatasetMethods(ReviewMethods):
    """Labelled-dataset use cases of :class:`~labline.Client` (see the module docstring)."""

    def create_labelled_dataset(
        self,
        name: str,
        *,
        model: str | None = None,
        reason: ReviewReason | None = None,
    ) -> LabelledDataset:
        """Make a new version of ``name`` from the reviewed items (all, or one model's, or only
        deferred/audit items). Content equal to the latest version's makes no new version.

        Args:
            name: the dataset's name.
            model: only items answered by this registered model.
            reason: only ``deferred`` or only ``audit`` items.

        Returns:
            The new version (or the latest one, unchanged).

        Raises:
            InvalidArgumentError: a bad name or filter, or no reviewed item with a label.
        """
        from ._exceptions import InvalidArgumentError
        from ._review import _check_reason

        check_name("dataset", name)
        reason = _check_reason(reason)
        examples: list[LabelledExample] = []
        left_out: Counter[str] = Counter()
        for page in _review_exchange.iter_items(self, status="done", model=model, reason=reason):
            decisions = _review_exchange._decisions_by_item(self, page)
            for item in page:
                mine = decisions.get(item.id, [])
                outcome = item_outcome(mine)
                if outcome is None or outcome[0] != "label":
                    left_out["rejected" if outcome and outcome[0] == "reject" else "disputed"] += 1
                    continue
                agreeing = [d for d in mine if d.kind == "label" and d.label == outcome[1]]
                examples.append(
                    LabelledExample(
                        item_id=item.id,
                        inputs=item.inputs,
                        label=outcome[1],
                        decision_ids=tuple(d.id for d in agreeing),
                        reviewers=tuple(d.reviewer for d in agreeing),
                        guess=item.guess,
                        confidence=item.confidence,
                        reason=item.reason,
                        request_id=item.request_id,
                        model_name=item.model_name,
                        model_version=item.model_version,
                        model_digest=item.model_digest,
                        calibration_id=item.calibration_id,
                    )
                )
        if not examples:
            raise InvalidArgumentError("no reviewed item with a label matches; nothing to version")
        table = examples_table(examples)
        fp = fingerprint(table)
        versions = Counter(f"{e.model_name}/{e.model_version}" for e in examples)
        meta: dict[str, Any] = {
            "columns": list(table.column_names),
            "model_versions": dict(sorted(versions.items())),
            "model_digests": sorted({e.model_digest for e in examples}),
            "calibrations": sorted({e.calibration_id for e in examples if e.calibration_id}),
            "reviewers": sorted({r for e in examples for r in e.reviewers}),
            "reasons": dict(Counter(e.reason for e in examples)),
            "left_out": dict(left_out),
            "rows_digest": fp.meta.get("rows_digest"),
        }
        query = {"model": model, "reason": reason}
        version, _ = self.store.add_labelled_dataset(
            name,
            fp.digest,
            [(e.item_id, e.label, e.decision_ids) for e in examples],
            created_by=self.actor,
            query=query,
            meta=meta,
        )
        return version

    def add_labelled_dataset_record(
        self,
        name: str,
        fingerprint: str,
        examples: Sequence[LabelledRow],
        *,
        query: Mapping[str, Any],
        meta: Mapping[str, Any],
    ) -> tuple[LabelledDataset, bool]:
        """Store a version of ``name`` built elsewhere (what :meth:`create_labelled_dataset`
        stores; a server does this for a remote client), created by this client's actor.

        Args:
            examples: ``(item_id, label, decision_ids)`` of each example.

        Returns:
            ``(version, created)``: ``created`` is false when the latest version has the same
            fingerprint (that version is returned).

        Raises:
            InvalidArgumentError: a bad name, fingerprint or example (the message names
                ``examples[i]``).
            NotFoundError: an example names an unknown review item.
        """
        from ._exceptions import InvalidArgumentError
        from ._review import _check_item_id
        from .core._review import check_label

        check_name("dataset", name)
        if not isinstance(fingerprint, str) or not 0 < len(fingerprint) <= 80:
            raise InvalidArgumentError("fingerprint must be 1 to 80 characters")
        rows: list[LabelledRow] = []
        for i, example in enumerate(examples):
            at = f"examples[{i}]"
            if not isinstance(example, (tuple, list)) or len(example) != 3:
                raise InvalidArgumentError(f"{at} must be (item_id, label, decision_ids)")
            item_id, label, decision_ids = example
            rows.append(
                (
                    _check_item_id(item_id, f"{at}.item_id"),
                    check_label(label, f"{at}.label"),
                    tuple(_check_item_id(d, f"{at}.decision_ids[]") for d in decision_ids),
                )
            )
        known = {
            item.id
            for start in range(0, len(rows), 1000)
            for item in self.store.list_review_items(
                item_ids=[r[0] for r in rows[start : start + 1000]], limit=1000
            )
        }
        missing = [r[0] for r in rows if r[0] not in known]
        if missing:
            raise NotFoundError(f"no review item {missing[0]} (examples name unknown items)")
        return self.store.add_labelled_dataset(
            name, fingerprint, rows, created_by=self.actor, query=query, meta=meta
        )

    def labelled_dataset_rows(self, name: str, version: int) -> list[LabelledRow]:
        """The ``(item_id, label, decision_ids)`` of each example of one version, by item id
        (:meth:`labelled_examples` adds each item's inputs and lineage).

        Raises:
            NotFoundError: no such dataset or version.
        """
        checked = _check_version(version)
        if checked is None:
            from ._exceptions import InvalidArgumentError

            raise InvalidArgumentError("version must be a positive integer")
        return self.store.labelled_dataset_rows(name, checked)

    def list_labelled_datasets(self, name: str | None = None) -> list[LabelledDataset]:
        """Every labelled dataset version (of ``name``, or all), by name then version."""
        return self.store.list_labelled_datasets(name)

    def get_labelled_dataset(self, name: str, version: int | None = None) -> LabelledDataset:
        """One version (the latest by default). Raises NotFoundError."""
        return self.store.get_labelled_dataset(name, _check_version(version))

    def labelled_examples(self, name: str, version: int | None = None) -> list[LabelledExample]:
        """The examples of a version with their lineage, by item id. Raises NotFoundError."""
        ds = self.store.get_labelled_dataset(name, _check_version(version))
        rows = self.store.labelled_dataset_rows(ds.name, ds.version)
        items = {}
        ids = [r[0] for r in rows]
        for start in range(0, len(ids), 1000):
            for item in self.store.list_review_items(
                item_ids=ids[start : start + 1000], limit=1000
            ):
                items[item.id] = item
        by_id = {
            d.id: d for d in self.store.list_review_decisions(item_ids=ids, include_undone=True)
        }
        out = []
        for item_id, label, decision_ids in rows:
            item = items[item_id]
            out.append(
                LabelledExample(
                    item_id=item_id,
                    inputs=item.inputs,
                    label=label,
                    decision_ids=tuple(decision_ids),
                    reviewers=tuple(by_id[d].reviewer for d in decision_ids if d in by_id),
                    guess=item.guess,
                    confidence=item.confidence,
                    reason=item.reason,
                    request_id=item.request_id,
                    model_name=item.model_name,
                    model_version=item.model_version,
                    model_digest=item.model_digest,
                    calibration_id=item.calibration_id,
                )
            )
        return out

    def labelled_dataset_table(self, name: str, version: int | None = None) -> pa.Table:
        """A version as a pyarrow Table (``labline_id``, feature columns, ``label``). Its
        content fingerprint is the version's ``fingerprint``: log it in a training run with
        ``run.log_dataset("reviewed", table)`` and later runs can tell they saw the same data.

        Raises:
            NotFoundError: no such dataset or version.
        """
        return examples_table(self.labelled_examples(name, version))
