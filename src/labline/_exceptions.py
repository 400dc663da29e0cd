"""labline's exceptions.

Every error labline raises on purpose derives from :class:`LablineError`; third-party
exceptions (SQLAlchemy, the database drivers, pyarrow, fsspec) never cross the public API.
HTTP status codes are assigned by the servers' handlers, not carried on these classes.

The tree::

    LablineError
    ├── NotFoundError (also KeyError)          run, experiment, model, alias, blob ... unknown
    ├── AlreadyExistsError                     a unique name or number is taken
    ├── ConflictError                          the state moved under the caller (a review
    │                                          lease expired and another reviewer holds it)
    ├── InvalidArgumentError (also ValueError) a value the caller passed is not acceptable
    │   ├── ParamConflictError                 a write-once param re-set to another value
    │   ├── SchemaError                        model input does not match its input schema
    │   ├── InfeasibleTargetError              no abstention threshold meets the target error
    │   ├── PayloadTooLargeError               a request body is larger than the server accepts
    │   └── UnsupportedMediaTypeError          a request body's type or encoding is not accepted
    ├── ImmutableError                         attempt to change something that is frozen
    ├── AuthenticationError                    a missing, unknown, expired or revoked token
    ├── PermissionDeniedError                  the caller's role lacks the right a request needs
    ├── IntegrityError                         stored content is not what was recorded
    │   └── DigestMismatchError                a file's SHA-256 differs from the manifest
    ├── ParityError                            a package does not reproduce its recorded outputs
    ├── ModelError                             a model's own code raised on valid input
    ├── StorageError                           the metadata or artifact store failed
    │   └── SchemaVersionError                 the database schema is not the one this code needs
    └── MissingDependencyError (also ImportError)  an optional extra is not installed

Warnings (``warnings.warn``; filter them by class)::

    UserWarning
    └── LocalArtifactsWarning                  runs go to a shared store, their files stay local
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AlreadyExistsError",
    "AuthenticationError",
    "ConflictError",
    "DigestMismatchError",
    "ImmutableError",
    "InfeasibleTargetError",
    "IntegrityError",
    "InvalidArgumentError",
    "LablineError",
    "LocalArtifactsWarning",
    "MissingDependencyError",
    "ModelError",
    "NotFoundError",
    "ParamConflictError",
    "ParityError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "SchemaError",
    "SchemaVersionError",
    "StorageError",
    "UnsupportedMediaTypeError",
]


class LablineError(Exception):
    """Root of every exception labline raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFoundError(LablineError, KeyError):
    """Something named by the caller does not exist (run, experiment, model, alias, blob)."""

    def __str__(self) -> str:  # KeyError would repr() the message; keep it readable
        return self.message


class AlreadyExistsError(LablineError):
    """A unique name or number is already taken."""


class ConflictError(LablineError):
    """The state changed under the caller: e.g. a review lease expired and another reviewer
    claimed the item. Reading again and retrying is the remedy."""


class InvalidArgumentError(LablineError, ValueError):
    """A value passed by the caller is not acceptable; the message names it."""


class ParamConflictError(InvalidArgumentError):
    """A write-once param was set again with a different value."""

    def __init__(self, key: str, old: str, new: str) -> None:
        super().__init__(
            f"param {key!r} is already set to {old!r}; refusing to change it to {new!r} "
            "(params are write-once; log a new run instead)"
        )
        self.key, self.old, self.new = key, old, new


class SchemaError(InvalidArgumentError):
    """Model input does not match the model's recorded input schema."""


class InfeasibleTargetError(InvalidArgumentError):
    """No abstention threshold meets the target error at the asked confidence on the data.

    Attributes:
        result: what calibration found (an ``AbstentionResult``); its ``best_target`` is the
            smallest target the method can guarantee with this many examples.
    """

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result


class PayloadTooLargeError(InvalidArgumentError):
    """A request body is larger than the server accepts (before or after decompression)."""


class UnsupportedMediaTypeError(InvalidArgumentError):
    """A request body's media type or content encoding is not one the server accepts."""


class ImmutableError(LablineError):
    """An attempt to change something that is frozen (a registered version, an evaluated hypothesis)."""


class AuthenticationError(LablineError):
    """The caller did not prove who it is: no token, or one that is unknown, expired or revoked.

    The message never quotes the token.
    """


class PermissionDeniedError(LablineError):
    """The caller is known, but its role does not hold the right the request needs."""


class IntegrityError(LablineError):
    """Stored content is not what was recorded."""


class DigestMismatchError(IntegrityError):
    """A file's SHA-256 digest differs from the one recorded in a manifest or the registry.

    Attributes:
        path: the file as the manifest or the registry names it (e.g. ``weights/model.skops``).
        expected: the recorded hex digest.
        actual: the hex digest found, or ``None`` when the file is missing.
        location: where the bad bytes are on disk (or in the object store), when known.
    """

    def __init__(
        self, path: str, expected: str, actual: str | None, *, location: str | None = None
    ) -> None:
        got = "the file is missing" if actual is None else f"found sha256:{actual}"
        where = "" if location is None or location == path else f" at {location}"
        super().__init__(f"digest mismatch for {path!r}{where}: expected sha256:{expected}, {got}")
        self.path, self.expected, self.actual = path, expected, actual
        self.location = location


class ParityError(LablineError):
    """A model package did not reproduce its recorded evaluation outputs.

    ``report`` carries the :class:`labline.models.ParityReport` (how many examples differ,
    the first few, the largest difference) when the replay ran.
    """

    def __init__(self, message: str, report: Any = None) -> None:
        super().__init__(message)
        self.report = report


class ModelError(LablineError):
    """A model package's own code raised on input that passed the schema checks.

    Only the type of the model's exception is kept (``error_type``): third-party messages may
    quote the input.
    """

    def __init__(self, error_type: str) -> None:
        super().__init__(f"the model raised {error_type}")
        self.error_type = error_type


class StorageError(LablineError):
    """The metadata store or the artifact store failed."""


class SchemaVersionError(StorageError):
    """The database schema version is not the one this version of labline needs."""


class MissingDependencyError(LablineError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class LocalArtifactsWarning(UserWarning):
    """Runs are recorded in a shared metadata store (PostgreSQL) while their files (models,
    predictions, artifacts) go to a folder on this machine: teammates will see the runs but
    cannot compare or load what they logged."""
