"""The privacy store: a tenant's secret (kept where the store's data alone cannot read it), the marks of erased
and suppressed subjects (keyed hashes only, never an identifier) and the tenant's privacy requests (their
subjects sealed under the tenant's key)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class Kind(StrEnum):
    """What a privacy request does; each dialect names its own request types after these."""

    DELETE = "delete"  # erase the memberships, purge every stored copy
    SUPPRESS_WITH_DELETE = "suppress_with_delete"  # suppress first, then delete
    SUPPRESS = "suppress"  # drop the subject's later events and rows; keep what is stored
    UNSUPPRESS = "unsuppress"
    PURGE = "purge"  # stored copies only, memberships kept
    ACCESS = "access"  # an export of what is held about the subject
    OPT_OUT = "opt_out"  # recorded for audit; nothing here is sold, so nothing changes

    @property
    def suppresses(self) -> bool:
        return self in (Kind.SUPPRESS, Kind.SUPPRESS_WITH_DELETE)

    @property
    def erases(self) -> bool:
        return self in (Kind.DELETE, Kind.SUPPRESS_WITH_DELETE)

    @property
    def purges(self) -> bool:
        return self in (Kind.DELETE, Kind.SUPPRESS_WITH_DELETE, Kind.PURGE)


class Status(StrEnum):
    """A request's status; it only moves forward, to one of the last four once."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # its attempts ran out
    CANCELLED = "cancelled"  # withdrawn while queued
    NOT_SUPPORTED = "not_supported"  # a subject kind this service does not hold

    @property
    def terminal(self) -> bool:
        return self not in (Status.QUEUED, Status.RUNNING)


@dataclass(frozen=True)
class Subject:
    """A data subject: one of the tenant's identifier fields and its value."""

    field: str
    value: str


FOREVER = 253_402_300_799.0  # 9999-12-31: a suppression that lasts until it is lifted


@dataclass(frozen=True)
class Mark:
    """What is recorded of a subject, by the keyed hash of its field and value."""

    suppressed_until: float = 0.0  # its events and rows are dropped until then (0: not suppressed)
    erased_at: float | None = None  # changes with a ts up to this are dropped: older than the erasure

    def suppressed(self, now: float) -> bool:
        return self.suppressed_until > now


@dataclass(frozen=True)
class Screening:
    """A tenant's secret (None: no privacy request yet, so nothing to screen) and every mark it holds."""

    secret: bytes | None
    marks: dict[str, Mark] = field(default_factory=dict)


@dataclass(frozen=True)
class PrivacyRequest:
    request_id: str  # sorts by creation time
    kind: Kind
    origin: str  # who asked, in which API (a dialect's name, or the operator's)
    sealed_subjects: bytes  # the subjects, encrypted under the tenant's key
    subject_count: int
    created_at: float
    created_by: str  # a key id, or the operator
    status: Status = Status.QUEUED
    updated_at: float = 0.0
    finished_at: float | None = None
    step: str = ""  # the step a running request is at
    position: str = ""  # how far that step got: its checkpoint
    not_before: float = 0.0  # the step waits until then
    effective_at: float = 0.0  # its marks are in effect in every container from then (0: not marked yet)
    suppress_days: int = 0  # how long a suppression lasts from the request (0: until lifted)
    export_name: str = ""  # the file an access export's ZIP holds
    # What the dialect keeps of the request, as JSON the core never reads, sealed under the tenant's key as the
    # subjects are: it may name people (Adobe's user key and ids), and the record outlives the job by months.
    sealed_attributes: bytes = b""
    results: dict = field(default_factory=dict)  # counts of what was done, the export's key
    expires_at: float | None = None  # the record is forgotten then


class PrivacyStore(Protocol):
    def screening(self, tenant_id: str) -> Screening:
        """The tenant's secret and all its marks, in one read."""
        ...

    def secret(self, tenant_id: str) -> bytes | None:
        """The tenant's secret alone (one small read, whatever the marks)."""
        ...

    def create_secret(self, tenant_id: str, now: float) -> bytes:
        """Make the tenant's secret (32 random bytes) unless it has one; the tenant's secret, whoever made it.
        The store keeps it where its own data alone cannot read it (on AWS, wrapped by KMS)."""
        ...

    def mark(
        self,
        tenant_id: str,
        hashes: list[str],
        *,
        suppressed_until: float | None = None,
        erased_at: float | None = None,
    ) -> None:
        """Raise the suppression's end to at least `suppressed_until` (0 lifts it; None leaves it), and
        `erased_at` to at least the one given (None leaves it): a later request never shortens an earlier one's
        mark. A mark left with neither is removed."""
        ...

    def put_request(self, tenant_id: str, request: PrivacyRequest) -> None:
        """Conflict if a request of that id exists."""
        ...

    def get_request(self, tenant_id: str, request_id: str) -> PrivacyRequest | None: ...

    def requests(
        self, tenant_id: str, after: str | None, limit: int, newest_first: bool = False
    ) -> tuple[list[PrivacyRequest], bool]:
        """A page of the tenant's requests by id (creation order), and whether more follow."""
        ...

    def count_requests(self, tenant_id: str) -> int: ...

    def update_request(
        self, tenant_id: str, request_id: str, expected: set[Status], **changes
    ) -> PrivacyRequest | None:
        """Change the request if its status is one of `expected`; None (nothing changed) if it is not."""
        ...
