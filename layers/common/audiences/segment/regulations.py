"""Segment's Deletion and Suppression API: regulation bodies, the regulation and list-entry objects, listing
parameters. The requests themselves are the core's (audiences.privacy); this is how Segment words them."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from audiences.errors import Problem
from audiences.json_bodies import json_object, refuse, unknown_fields
from audiences.ports.privacy import Kind, PrivacyRequest, Status
from audiences.privacy.requests import REQUEST_ID
from audiences.segment.audiences import DEFAULT_COUNT, MAX_COUNT, decoded_cursor, pagination_params

ORIGIN = "segment"  # the requests made through this API: the workspace's regulations
KEEP_DAYS = 90  # a regulation is listed and readable for 90 days (Segment's window)
MAX_SUBJECTS = 5_000  # per call (Segment's cap)
MAX_SUBJECT_CHARS = 255
QUOTA_SUBJECTS = 110_000  # per workspace per 30 days (Segment's cap)
QUOTA_DAYS = 30

KINDS = {
    "DELETE_INTERNAL": Kind.DELETE,
    "DELETE_ONLY": Kind.DELETE,
    "SUPPRESS_ONLY": Kind.SUPPRESS,
    "SUPPRESS_WITH_DELETE": Kind.SUPPRESS_WITH_DELETE,
    "SUPPRESS_WITH_DELETE_INTERNAL": Kind.SUPPRESS_WITH_DELETE,  # newer SDKs' name of the same
    "UNSUPPRESS": Kind.UNSUPPRESS,
    "DELETE_ARCHIVE_ONLY": Kind.PURGE,
}
LISTED_TYPES = ("DELETE_INTERNAL", "DELETE_ONLY", "SUPPRESS_ONLY", "SUPPRESS_WITH_DELETE", "UNSUPPRESS")
SUBJECT_TYPES = ("USER_ID", "OBJECT_ID")
STATUSES = {
    Status.QUEUED: "INITIALIZED",
    Status.RUNNING: "RUNNING",
    Status.DONE: "FINISHED",
    Status.FAILED: "FAILED",
    Status.NOT_SUPPORTED: "NOT_SUPPORTED",
}
ALL_STATUSES = ("FAILED", "FINISHED", "INITIALIZED", "INVALID", "NOT_SUPPORTED", "PARTIAL_SUCCESS", "RUNNING")
_FIELDS = {"regulationType", "subjectType", "subjectIds"}


@dataclass(frozen=True)
class Regulation:
    regulation_type: str
    subject_type: str
    subject_ids: list[str]

    @property
    def kind(self) -> Kind:
        return KINDS[self.regulation_type]

    @property
    def supported(self) -> bool:
        """OBJECT_ID names a cloud source's objects: there are none here."""
        return self.subject_type == "USER_ID"


def parse_create(body: str | None) -> Regulation:
    """The whole body checked: InvalidInput lists every problem (Segment's 422), field by field."""
    document = json_object(body)
    problems: list[Problem] = []
    unknown_fields(document, _FIELDS, problems)
    regulation_type, subject_type, ids = (document.get(f) for f in ("regulationType", "subjectType", "subjectIds"))
    if not isinstance(regulation_type, str) or regulation_type not in KINDS:
        problems.append(Problem("regulationType", f"must be one of {', '.join(LISTED_TYPES)}"))
    if not isinstance(subject_type, str) or subject_type not in SUBJECT_TYPES:
        problems.append(Problem("subjectType", "must be USER_ID or OBJECT_ID"))
    if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_SUBJECTS:
        problems.append(Problem("subjectIds", f"must be a list of 1 to {MAX_SUBJECTS} ids"))
        ids = []
    for n, value in enumerate(ids):
        if not isinstance(value, str) or not 1 <= len(value) <= MAX_SUBJECT_CHARS:
            problems.append(Problem(f"subjectIds[{n}]", f"must be a string of 1 to {MAX_SUBJECT_CHARS} characters"))
    refuse(problems)
    return Regulation(regulation_type, subject_type, list(dict.fromkeys(ids)))


def _time(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def attributes(regulation: Regulation) -> dict:
    return {"regulationType": regulation.regulation_type, "subjectType": regulation.subject_type}


def status_of(request: PrivacyRequest) -> str:
    return STATUSES[request.status]


def regulation_object(request: PrivacyRequest, tenant_id: str) -> dict:
    body = {
        "id": request.request_id,
        "workspaceId": tenant_id,
        "overallStatus": status_of(request),
        "createdAt": _time(request.created_at),
        "streamStatus": [],  # no destinations here
    }
    if request.status.terminal:
        body["finishedAt"] = _time(request.finished_at)
    return body


def list_entry(request: PrivacyRequest, kept: dict, subjects: list[str]) -> dict:
    """A listed regulation; `kept` is what `attributes` made of its create."""
    entry = {
        "id": request.request_id,
        "subjectType": kept["subjectType"],
        "subjects": subjects,
        "status": status_of(request),
        "createdAt": _time(request.created_at),
        "regulationType": kept["regulationType"],
    }
    if request.status.terminal:
        entry["finishedAt"] = _time(request.finished_at)
    return entry


@dataclass(frozen=True)
class Listing:
    count: int
    after: str | None
    cursor: str | None
    status: str | None
    types: frozenset[str] | None


_INDEXED = re.compile(r"regulationTypes\[\d*\]")


def _types(query: Mapping[str, list[str]]) -> list[str] | None:
    """regulationTypes, as repeated, indexed (`[0]`), bracketed (`[]`) or comma-joined parameters."""
    values = [v for name, vs in query.items() if name == "regulationTypes" or _INDEXED.fullmatch(name) for v in vs]
    return [t for value in values for t in value.split(",") if t] if values else None


def parse_listing(
    query: Mapping[str, list[str]], tenant_id: str, positions: Callable[[str], bool] | None = None
) -> Listing:
    """A listing's parameters; a cursor positions it after a regulation's id (or what `positions` accepts)."""
    single = {name: values[-1] for name, values in query.items()}
    params = pagination_params(single)
    problems = []
    count = params.get("count", DEFAULT_COUNT)
    if isinstance(count, str) and count.isdigit():
        count = int(count)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        problems.append(Problem("pagination.count", f"must be a whole number from 1 to {MAX_COUNT}, got {count!r}"))
        count = DEFAULT_COUNT
    status = single.get("status")
    if status is not None and status not in ALL_STATUSES:
        problems.append(Problem("status", f"must be one of {', '.join(ALL_STATUSES)}"))
    types = _types(query)
    if types is not None and (unknown := sorted(set(types) - set(LISTED_TYPES))):
        problems.append(Problem("regulationTypes", f"{', '.join(unknown)}: must be among {', '.join(LISTED_TYPES)}"))
    refuse(problems)
    cursor = params.get("cursor") or None
    after = decoded_cursor(cursor, tenant_id, accepts=positions or _is_request_id)[1] if cursor else None
    return Listing(count, after, cursor, status, frozenset(types) if types is not None else None)


def _is_request_id(text: str) -> bool:
    return bool(REQUEST_ID.fullmatch(text))


_SUPPRESSION = re.compile(r"[0-9a-f]{64}")


def is_suppression_position(text: str) -> bool:
    return bool(_SUPPRESSION.fullmatch(text))


def selected(request: PrivacyRequest, kept: dict, listing: Listing) -> bool:
    if request.origin != ORIGIN or request.status is Status.CANCELLED:
        return False
    if listing.status is not None and status_of(request) != listing.status:
        return False
    return listing.types is None or kept["regulationType"] in listing.types
