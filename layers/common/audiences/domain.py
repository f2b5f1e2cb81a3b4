"""Value types of the core and the one rule that orders membership changes."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from itertools import islice
from typing import TypeVar

# DynamoDB keys: a partition key holds 2048 bytes (tenant and field come first), a sort key 1024.
T = TypeVar("T")
MAX_IDENTIFIER_BYTES = 1024
MAX_EXTERNAL_ID_BYTES = 1024
AUDIENCE_KEY = re.compile(r"[a-z0-9_]{1,64}")
DAY_SECONDS = 86_400
TENANT_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
IDENTIFIER_FIELD = re.compile(r"[a-z][a-z0-9_]{0,63}")
# C0 and C1 controls and DEL: no identifier or audience id needs one, and in a key, a log line
# or a CSV row they only hide what the value really is.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def batched(items: Iterable[T], size: int) -> Iterator[tuple[T, ...]]:
    """`items` in tuples of `size` (the last shorter): itertools.batched, which Python 3.11 lacks."""
    iterator = iter(items)
    while batch := tuple(islice(iterator, size)):
        yield batch


def key_from_name(name: str) -> str:
    """An audience key for a display name: lower-case, every non-alphanumeric a `_`, cut to 64."""
    return re.sub(r"[^a-z0-9]", "_", name.lower())[:64]


def control_character_problem(value: str) -> str | None:
    """Why a value that becomes part of a key (an identifier value, an audience id) is refused, or None."""
    if found := _CONTROL_CHARACTER.search(value):
        return f"contains the control character U+{ord(found.group()):04X}; send the value without it"
    return None


def identifier_value_problem(value: str) -> str | None:
    """Why a user's identifier value is refused (what follows where it is: "is empty"), or None: the
    one rule every event, call, file row and run row is held to."""
    if not value:
        return "is empty"
    if len(value.encode()) > MAX_IDENTIFIER_BYTES:
        return f"is longer than {MAX_IDENTIFIER_BYTES} bytes"
    return control_character_problem(value)


def audience_id_problem(value: str) -> str | None:
    """Why an audience's external id, as an event or call names it, is refused, or None."""
    if len(value.encode()) > MAX_EXTERNAL_ID_BYTES:
        return f"is longer than {MAX_EXTERNAL_ID_BYTES} bytes"
    return control_character_problem(value)


class Scope(StrEnum):
    PUBLIC = "public"  # send events, query one customer's audiences
    PRIVATE = "private"  # everything

    def allows(self, required: Scope) -> bool:
        return self is Scope.PRIVATE or required is Scope.PUBLIC


class Confidence(StrEnum):
    HIGH = "high"
    LOW = "low"


class State(StrEnum):
    QUALIFIED = "qualified"
    DISQUALIFIED = "disqualified"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the tenant an API key resolved to, what the key may do, and its id."""

    tenant_id: str
    scope: Scope
    key_id: str = ""  # names the key in createdBy/updatedBy and listings; never the key itself

    @property
    def actor(self) -> str:
        """Who a change is recorded as made by."""
        return self.key_id or OPERATOR


OPERATOR = "operator"  # changes made with the operator CLI


@dataclass(frozen=True)
class Identifier:
    """An identifier field of a tenant: how a user can be named in events and queries."""

    name: str
    merge_confidence: Confidence
    display_name: str = ""
    messaging: bool = False
    public_read: bool = False


@dataclass(frozen=True)
class IdentityMap:
    """Which identifier field a source's names for a user stand for, where the source does not
    name the field itself (a CDP's `userId` and traits): tried in order, the user id first."""

    user_id: str = "fs_user_id"
    traits: tuple[tuple[str, str], ...] = (("email", "email"),)  # (trait, identifier field)

    def fields(self) -> list[str]:
        return [self.user_id, *(field for _, field in self.traits)]


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    identifiers: dict[str, Identifier]
    revision: int = 1
    identity_map: IdentityMap = IdentityMap()

    @classmethod
    def of(cls, tenant_id: str, **confidences: Confidence) -> Tenant:
        """A tenant with identifiers of the given confidences and default details."""
        return cls(tenant_id, {name: Identifier(name, level) for name, level in confidences.items()})

    def confidence(self, field: str) -> Confidence | None:
        identifier = self.identifiers.get(field)
        return identifier.merge_confidence if identifier else None

    def high_confidence_identifiers(self) -> list[str]:
        return sorted(name for name in self.identifiers if self.confidence(name) is Confidence.HIGH)

    def unusable_identifier_problem(self, field: str, needed_by: str) -> str | None:
        """Why `field` cannot name a user whose memberships change (only high-confidence ones can), or None."""
        if self.confidence(field) is Confidence.HIGH:
            return None
        allowed = ", ".join(self.high_confidence_identifiers()) or "none configured"
        why = "is low-confidence" if field in self.identifiers else "is not configured"
        return f"identifier {field!r} {why}; {needed_by} need one of: {allowed}"


@dataclass(frozen=True)
class UserRef:
    """A user is exactly an (identifier field, value) pair; there is no identity resolution."""

    field: str
    value: str


@dataclass(frozen=True)
class MembershipChange:
    user: UserRef
    external_id: str
    state: State
    ts: float
    # A data expiry: a disqualify that applies only while the qualification of this ts stands, so a
    # qualification that arrived since (even an older one, late) is never expired by it.
    expires: float | None = None


@dataclass(frozen=True)
class Audience:
    """One audience of one catalog, whichever dialect made or reads it.

    `key` is what ODP calls the segment id, `audience_id` the stable UUID Segment and Adobe
    address it by, `external_id` what events and files name. `dialect_attributes` holds, per
    dialect, JSON text only that dialect reads (Segment's `definition`): the core keeps it.
    `claims` are names no other audience of the tenant may hold at the same time, which a
    dialect chooses for its own uniqueness rules (Adobe: a name per sandbox). `ttl_days`, when
    set, is how long a qualification lasts after the change that made it.
    """

    key: str
    external_id: str
    description: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    revision: int = 1
    enabled: bool = True
    created_at: datetime | None = None
    updated_at: datetime | None = None
    audience_id: str = ""  # assigned by the store when the audience is created
    name: str = ""  # a display name; empty shows the key
    created_by: str = ""  # a key id or OPERATOR; empty for audiences older than the record
    updated_by: str = ""
    dialect_attributes: dict[str, str] = field(default_factory=dict)
    claims: frozenset[str] = frozenset()
    ttl_days: int | None = None
    origin: str = ""  # the dialect that created it; empty for audiences older than the record

    @property
    def display_name(self) -> str:
        return self.name or self.key

    def expires_at(self, ts: float) -> float | None:
        """When a qualification of this ts stops counting; None if this audience's never do."""
        return None if self.ttl_days is None else ts + self.ttl_days * DAY_SECONDS

    def expired(self, ts: float, now: float) -> bool:
        expires = self.expires_at(ts)
        return expires is not None and expires <= now

    def same_content(self, other: Audience) -> bool:
        """Equal in everything a client can change: an update to this is no change."""
        return self._content() == other._content()

    def _content(self) -> tuple:
        return (
            self.external_id,
            self.description,
            self.metadata,
            self.enabled,
            self.name,
            self.dialect_attributes,
            self.claims,
            self.ttl_days,
        )


def supersedes(incoming: tuple[State, float], current: tuple[State, float] | None) -> bool:
    """Last writer wins by ts; on equal ts a disqualify beats a qualify.

    The membership store enforces exactly this rule as a DynamoDB condition; this pure
    form is the model tests compare the store against.
    """
    if current is None:
        return True
    state, ts = incoming
    current_state, current_ts = current
    if ts != current_ts:
        return ts > current_ts
    return state is State.DISQUALIFIED and current_state is State.QUALIFIED


# Epoch seconds reach 10^11 only in the year 5138; epoch milliseconds passed it in 1973.
MILLISECONDS_FROM = 10**11


def checked_ts(value: object, now: float, max_future_skew: float) -> float:
    """A membership ts in epoch seconds, or ValueError saying what is wrong with it, never quoting it: a file's
    cell may hold anything, and a file's errors are stored."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"ts must be epoch seconds as a number, got {type(value).__name__}")
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("ts must be a finite number of epoch seconds")
    if value < 0:
        raise ValueError("ts must not be negative")
    if value >= MILLISECONDS_FROM:
        raise ValueError("ts looks like epoch milliseconds: send epoch seconds (divide by 1000)")
    if value > now + max_future_skew:
        raise ValueError(f"ts is more than {max_future_skew:.0f} s in the future, the most allowed")
    return float(value)


class ImportStatus(StrEnum):
    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"  # superseded by a newer upload of the same audience


@dataclass(frozen=True)
class ImportRecord:
    """One import of an audience's complete list (an uploaded file, a run, a re-confirmation), and what
    became of it: the activity log's entry."""

    import_id: str
    audience: str
    source: str  # what it reads: the uploaded object's key, or a run's source file or folder
    as_of: float  # the time its list is true as of (an upload's time, a run's creation): its changes' ts
    status: ImportStatus = ImportStatus.PROCESSING
    started_at: datetime | None = None
    finished_at: datetime | None = None
    rows: int | None = None
    qualified: int | None = None
    disqualified: int | None = None
    unchanged: int | None = None
    suppressed: int = 0  # rows of subjects under a privacy mark: accepted and dropped, not errors
    errors: tuple[tuple[int, str], ...] = ()
    error_count: int = 0
    message: str = ""
    rows_done: int = 0
    changes_applied: int = 0
    attempts: int = 0  # deliveries that failed so far; the queue retries them
    last_failure: str = ""  # why the last of them failed
    # A run (rather than an upload) reads the source files uploaded within a window:
    window_start: float | None = None
    window_end: float | None = None
    created_by: str = ""
    # Its changes are applied in chunks, in parallel: progress while it runs.
    chunks_total: int | None = None
    chunks_done: int = 0
    changes_total: int | None = None
    size_after: int | None = None  # the audience's size when it succeeded: its size history


@dataclass(frozen=True)
class AudienceImportState:
    """The last import applied to an audience: what the next one is diffed against."""

    import_id: str
    as_of: float  # the time the list is true as of
    snapshot_key: str
    identifier: str
    external_id: str
