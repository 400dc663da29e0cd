"""The review queue's use cases, as methods :class:`~labline.Client` inherits.

Serving queues the answers people should check (:meth:`ReviewMethods.enqueue_review_items`);
reviewers claim one item at a time with a lease (:meth:`ReviewMethods.next_review_item`),
label, reject or skip it, and can undo or edit their latest decisions. The reviewer is always
the client's actor (a server makes one client per request with the token's user).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import _review_exchange
from ._exceptions import InvalidArgumentError, NotFoundError
from .core import to_jsonable
from .core._review import (
    RECENT_DECISIONS,
    AuditAccuracy,
    ReviewDecision,
    ReviewImportReport,
    ReviewItem,
    ReviewItemDraft,
    ReviewOrder,
    ReviewReason,
    ReviewStats,
    check_decision,
    check_draft,
    check_item_status,
    check_label,
    check_lease_seconds,
    check_list_limit,
    check_order,
    check_reviewer,
    check_reviews_needed,
)
from .store._review_base import ImportedDecision

if TYPE_CHECKING:
    from .models._manifest import Manifest
    from .store import MetadataStore

__all__ = ["DEFAULT_LEASE_SECONDS", "MAX_ITEM_IDS", "ReviewMethods"]

DEFAULT_LEASE_SECONDS = 300.0
"""How long a claim lasts unless renewed: a reviewer who walks away gives the item back then."""

MAX_ITEM_IDS = 10_000
"""The most item ids one listing may name."""


def _check_reason(reason: object) -> ReviewReason | None:
    if reason is not None and reason not in ("deferred", "audit"):
        raise InvalidArgumentError("reason must be 'deferred' or 'audit'")
    return reason  # type: ignore[return-value]


def _check_item_id(item_id: object, what: str = "item_id") -> int:
    if isinstance(item_id, bool) or not isinstance(item_id, int) or item_id < 1:
        raise InvalidArgumentError(f"{what} must be a positive integer")
    return item_id


class ReviewMethods:
    """Review-queue use cases of :class:`~labline.Client` (see the module docstring)."""

    store: MetadataStore
    actor: str

    def get_manifest(self, digest: str) -> Manifest:  # provided by Client
        raise NotImplementedError

    # -- queueing ------------------------------------------------------------------------------
    def enqueue_review_items(
        self, items: Sequence[ReviewItemDraft], *, reviews_needed: int = 1
    ) -> list[int]:
        """Queue answers for review, all in one transaction.

        Args:
            items: the drafts (deferred answers and audit samples).
            reviews_needed: how many reviewers must label each item (agreement is reported
                when more than one does).

        Returns:
            The new item ids, in the order of ``items``.

        Raises:
            InvalidArgumentError: a draft is malformed (the message names ``items[i].field``);
                nothing is queued.
            StorageError: the store failed; nothing is queued.
        """
        if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
            raise InvalidArgumentError("items must be a sequence of ReviewItemDraft")
        n = check_reviews_needed(reviews_needed)
        drafts = [check_draft(d, i) for i, d in enumerate(items)]
        return self.store.enqueue_review_items(drafts, reviews_needed=n)

    def set_reviews_needed(self, item_ids: Sequence[int], reviews_needed: int) -> int:
        """Change how many reviews items need (an item with enough reviews becomes done).

        Returns:
            How many items were changed.

        Raises:
            InvalidArgumentError: a bad count or id.
        """
        n = check_reviews_needed(reviews_needed)
        ids = [_check_item_id(i, "item_ids[]") for i in item_ids]
        return self.store.set_reviews_needed(ids, n)

    # -- reading -------------------------------------------------------------------------------
    def get_review_item(self, item_id: int) -> ReviewItem:
        """One review item with its state. Raises NotFoundError."""
        return self.store.get_review_item(_check_item_id(item_id))

    def list_review_items(
        self,
        *,
        status: str | None = None,
        reason: ReviewReason | None = None,
        model: str | None = None,
        order: ReviewOrder = "time",
        limit: int = 100,
        after_id: int | None = None,
        item_ids: Sequence[int] | None = None,
    ) -> list[ReviewItem]:
        """Review items, oldest first (or by uncertainty).

        Args:
            status: ``open``, ``claimed``, ``done`` or ``pending`` (open or claimed).
            reason: ``deferred`` or ``audit``.
            model: a registered model name.
            order: ``time`` (by id) or ``uncertainty``.
            limit: at most this many (1..10,000).
            after_id: page on from this id (``order="time"`` only).
            item_ids: only these items (at most 10,000).

        Raises:
            InvalidArgumentError: a bad filter.
        """
        if item_ids is not None:
            item_ids = [_check_item_id(i, "item_ids[]") for i in item_ids]
            if len(item_ids) > MAX_ITEM_IDS:
                raise InvalidArgumentError(f"item_ids holds more than {MAX_ITEM_IDS} ids")
        return self.store.list_review_items(
            status=check_item_status(status),
            reason=_check_reason(reason),
            model_name=model,
            order=check_order(order),
            limit=check_list_limit(limit),
            after_id=None if after_id is None else _check_item_id(after_id, "after_id"),
            item_ids=item_ids,
        )

    def review_counts(self, *, model: str | None = None) -> dict[str, int]:
        """Item counts: ``total``, by state (``open``, ``claimed``, ``done``) and by reason
        (``deferred``, ``audit``); one query, cheap enough to poll."""
        return dict(self.store.review_counts(model_name=model))

    def review_decisions(
        self,
        item_ids: Sequence[int] | None = None,
        *,
        include_undone: bool = False,
        include_skips: bool = False,
    ) -> list[ReviewDecision]:
        """Label and reject decisions (on the given items, or all), oldest first; undone
        decisions and skips too when asked for."""
        ids = None if item_ids is None else [_check_item_id(i, "item_ids[]") for i in item_ids]
        return self.store.list_review_decisions(
            item_ids=ids, include_undone=include_undone, include_skips=include_skips
        )

    def recent_review_decisions(self, limit: int = RECENT_DECISIONS) -> list[ReviewDecision]:
        """This reviewer's latest decisions, newest first (the first ``RECENT_DECISIONS`` are
        the ones that can be undone or edited)."""
        return self.store.recent_review_decisions(self.actor, limit)

    # -- reviewing -----------------------------------------------------------------------------
    def next_review_item(
        self,
        *,
        order: ReviewOrder = "uncertainty",
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        model: str | None = None,
        reason: ReviewReason | None = None,
    ) -> ReviewItem | None:
        """Claim the next item for this client's actor.

        No other reviewer gets the item while the lease runs; asking again returns the same
        item with its lease renewed; when the lease lapses the item goes back to the queue.

        Args:
            order: ``uncertainty`` (lowest margin first) or ``time`` (oldest first).
            lease_seconds: how long the claim lasts.
            model: only items of this registered model.
            reason: only ``deferred`` or only ``audit`` items.

        Returns:
            The claimed item, or ``None`` when nothing is left for this reviewer.

        Raises:
            InvalidArgumentError: a bad order, lease or filter.
        """
        return self.store.claim_next_review_item(
            self.actor,
            order=check_order(order),
            lease_seconds=check_lease_seconds(lease_seconds),
            model_name=model,
            reason=_check_reason(reason),
        )

    def claim_review_item(
        self, item_id: int, *, lease_seconds: float = DEFAULT_LEASE_SECONDS
    ) -> ReviewItem:
        """Claim one given item for this client's actor (renew the lease if already held).

        Raises:
            NotFoundError: no such item.
            ConflictError: another reviewer holds it, it is done, or this reviewer decided it.
        """
        return self.store.claim_review_item(
            _check_item_id(item_id), self.actor, lease_seconds=check_lease_seconds(lease_seconds)
        )

    def release_review_item(self, item_id: int) -> None:
        """Give a claimed item back to the queue at once."""
        self.store.release_review_claim(_check_item_id(item_id), self.actor)

    def _class_of(self, item: ReviewItem, label: Any) -> Any:
        """``label`` as one of the model's classes (``"3"`` is class ``3``), when the model's
        package names its classes; the label as given otherwise."""
        label = check_label(label)
        try:
            classes = self.get_manifest(item.model_digest).classes
        except NotFoundError:
            classes = None
        if not classes:
            # no class list: read the label as the guess's type ("3" is 3 when guesses are ints)
            if str(label) == str(item.guess):
                return item.guess
            if isinstance(item.guess, int) and isinstance(label, str):
                try:
                    return int(label)
                except ValueError:
                    return label
            return label
        for c in classes:
            if c == label or str(c) == str(label):
                return c.item() if hasattr(c, "item") else c
        raise InvalidArgumentError(
            f"label is not one of the classes of {item.model_name}/{item.model_version}"
        )

    def decide_review_item(
        self,
        item_id: int,
        kind: str,
        label: Any = None,
        *,
        meta: Mapping[str, Any] | None = None,
    ) -> ReviewDecision:
        """Decide a claimed item by kind: ``label`` (with one of the model's classes),
        ``reject`` or ``skip`` (see :meth:`label_review_item`, :meth:`reject_review_item`,
        :meth:`skip_review_item`), keeping ``meta`` with the decision.

        Raises:
            InvalidArgumentError: an unknown kind, a label with a reject or skip, a malformed
                label or one that is not a class of the model.
            ConflictError: this reviewer does not hold the item or already decided it.
            NotFoundError: no such item.
        """
        kind, label = check_decision(kind, label)
        item = self.get_review_item(item_id)
        if kind == "label":
            label = self._class_of(item, label)
        return self.store.decide_review_item(
            item.id, self.actor, kind, label, meta=None if meta is None else to_jsonable(meta)
        )

    def label_review_item(self, item_id: int, label: Any) -> ReviewDecision:
        """Label a claimed item with its class.

        Raises:
            InvalidArgumentError: a malformed label, or one that is not a class of the model.
            ConflictError: this reviewer does not hold the item or already decided it.
            NotFoundError: no such item.
        """
        item = self.get_review_item(item_id)
        return self.store.decide_review_item(
            item.id, self.actor, "label", self._class_of(item, label)
        )

    def reject_review_item(self, item_id: int) -> ReviewDecision:
        """Decide that none of the classes fits a claimed item.

        Raises:
            ConflictError: this reviewer does not hold the item or already decided it.
            NotFoundError: no such item.
        """
        return self.store.decide_review_item(_check_item_id(item_id), self.actor, "reject", None)

    def skip_review_item(self, item_id: int) -> ReviewDecision:
        """Pass on a claimed item: it returns to the queue, and this reviewer sees it again
        only after every other item.

        Raises:
            ConflictError: this reviewer does not hold the item.
            NotFoundError: no such item.
        """
        return self.store.decide_review_item(_check_item_id(item_id), self.actor, "skip", None)

    def undo_review_decision(
        self, decision_id: int | None = None, *, lease_seconds: float = DEFAULT_LEASE_SECONDS
    ) -> ReviewDecision:
        """Undo one of this reviewer's latest decisions (the latest when ``decision_id`` is
        omitted). The item returns to the queue, claimed by this reviewer when free.

        Raises:
            NotFoundError: nothing to undo, or no such decision of this reviewer.
            ConflictError: the decision is already undone or older than the latest 10.
        """
        if decision_id is None:
            recent = self.store.recent_review_decisions(self.actor, 1)
            if not recent:
                raise NotFoundError(f"{self.actor!r} has no decision to undo")
            decision_id = recent[0].id
        return self.store.undo_review_decision(
            _check_item_id(decision_id, "decision_id"),
            self.actor,
            lease_seconds=check_lease_seconds(lease_seconds),
        )

    def edit_review_decision(
        self, decision_id: int, label: Any = None, *, reject: bool = False
    ) -> ReviewDecision:
        """Change one of this reviewer's latest 10 decisions to another label (or to a reject).

        Raises:
            InvalidArgumentError: both or neither of ``label`` and ``reject`` given, or a label
                that is not a class of the model.
            ConflictError: the decision is a skip, undone, or older than the latest 10.
            NotFoundError: no such decision of this reviewer.
        """
        if reject == (label is not None):
            raise InvalidArgumentError("give either a label or reject=True")
        did = _check_item_id(decision_id, "decision_id")
        if reject:
            return self.store.edit_review_decision(did, self.actor, "reject", None)
        decision = next(
            (d for d in self.store.recent_review_decisions(self.actor, 10) if d.id == did), None
        )
        if decision is None:
            return self.store.edit_review_decision(did, self.actor, "label", check_label(label))
        kind, value = check_decision(
            "label", self._class_of(self.get_review_item(decision.item_id), label)
        )
        return self.store.edit_review_decision(did, self.actor, kind, value)

    def import_review_decisions(self, decisions: Sequence[ImportedDecision]) -> list[int]:
        """Record decisions made outside labline (what :meth:`import_label_studio` stores),
        in one transaction, each marked ``imported_by`` this client's actor in its ``meta``.

        Args:
            decisions: ``(item_id, reviewer, kind, label, source, meta)`` tuples: a label or
                reject by an outside reviewer (``label-studio:ann``), the tool it comes from
                (never ``labline``: labline's own decisions go through claims).

        Returns:
            The ids of the decisions recorded (one equal to a decision already counting is
            left out).

        Raises:
            InvalidArgumentError: a malformed decision (the message names ``decisions[i]``).
            NotFoundError: an unknown item (nothing is recorded).
            ConflictError: a reviewer already decided an item differently (nothing is
                recorded).
        """
        rows: list[ImportedDecision] = []
        for i, row in enumerate(decisions):
            at = f"decisions[{i}]"
            if not isinstance(row, tuple) or len(row) != 6:
                raise InvalidArgumentError(
                    f"{at} must be (item_id, reviewer, kind, label, source, meta)"
                )
            item_id, reviewer, kind, label, source, meta = row
            try:
                kind, label = check_decision(kind, label)
                if kind == "skip":
                    raise InvalidArgumentError("imported decisions are labels or rejects")
                reviewer = check_reviewer(reviewer)
                if not isinstance(source, str) or not 0 < len(source) <= 64 or source == "labline":
                    raise InvalidArgumentError(
                        "source must name the outside tool (1-64 characters, not 'labline')"
                    )
                if not isinstance(meta, Mapping):
                    raise InvalidArgumentError("meta must be a mapping")
            except InvalidArgumentError as e:
                raise InvalidArgumentError(f"{at}: {e.message}") from None
            meta = {**to_jsonable(dict(meta)), "imported_by": self.actor}
            rows.append(
                (_check_item_id(item_id, f"{at}.item_id"), reviewer, kind, label, source, meta)
            )
        return self.store.import_review_decisions(rows)

    # -- reports and exchange ------------------------------------------------------------------
    def review_stats(self, *, model: str | None = None) -> ReviewStats:
        """Queue counts, how the reviews judge the model (its accuracy on done items; on audit
        samples with a Wilson 95% interval: the unbiased live accuracy), decisions per reviewer
        and agreement (Cohen's kappa for two reviews per item, Fleiss' for more).

        Args:
            model: only items of this registered model.
        """
        return _review_exchange.review_stats(self, model)

    def audit_accuracy(self, model: str, version: int | None = None) -> AuditAccuracy:
        """Live accuracy of a model (version) on its reviewed audit samples, with a Wilson 95%
        interval: the unbiased estimate of how often its kept answers are right (serving sends
        a random share of them to review; see ``labline serve --audit-fraction``).

        Args:
            model: a registered model name.
            version: only items this version answered (all versions when omitted).

        Raises:
            InvalidArgumentError: a malformed version.
        """
        if version is not None:
            version = _check_item_id(version, "version")
        return _review_exchange.audit_accuracy(self, model, version)

    def export_review_items(
        self,
        *,
        format: _review_exchange.ExportFormat = "label-studio",
        status: str | None = "pending",
        model: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Items as JSON-ready objects, in id order (a generator: pages are read lazily).

        Args:
            format: ``label-studio`` (tasks to import into Label Studio: ``data`` holds the input
                and ``labline_id``, the guess is a prediction with ``score`` = confidence and
                ``model_version`` = the registry version) or ``jsonl`` (the whole item with its
                decisions and outcome).
            status: ``pending`` (default: not done), ``open``, ``claimed``, ``done`` or ``None``
                for every item.
            model: only items of this registered model.

        Raises:
            InvalidArgumentError: an unknown format or status.
        """
        if status is not None and status not in ("open", "claimed", "done", "pending"):
            raise InvalidArgumentError("status must be 'open', 'claimed', 'done' or 'pending'")
        return _review_exchange.export_items(self, format=format, status=status, model=model)

    def import_label_studio(self, tasks: Any) -> ReviewImportReport:
        """Record the annotations of a Label Studio JSON export as review decisions, in one
        transaction (all or nothing). Each annotator (``label-studio:<email or id>``) counts as
        a reviewer; importing the same export twice records nothing new.

        Args:
            tasks: the parsed export (a list of tasks with ``data.labline_id`` and
                ``annotations[].result[].value.choices``).

        Raises:
            InvalidArgumentError: a malformed export (the message names the task), or a choice
                that is not a class of the model.
            NotFoundError: a task names an unknown item (nothing is recorded).
            ConflictError: an annotator already decided an item differently.
        """
        return _review_exchange.import_label_studio(self, tasks)
