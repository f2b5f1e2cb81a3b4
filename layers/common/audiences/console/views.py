"""The console API's answers, as Pydantic models: Powertools validates and documents them.

Nothing here is a vendor's contract; the console page is its only client, and docs/api.md
describes the shapes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel

from audiences.domain import Audience, ImportRecord
from audiences.importer import RECONFIRM_PREFIX, RUN_PREFIX
from audiences.memberships import Qualification
from audiences.ports.privacy import PrivacyRequest

HISTORY_POINTS = 100  # the latest successful imports a size chart shows


class AudienceRow(BaseModel):
    audience_id: str
    key: str
    name: str
    external_id: str
    size: int
    enabled: bool
    origin: str  # odp, segment or adobe; "" for audiences older than the record
    created_at: datetime | None
    updated_at: datetime | None
    updated_by: str
    ttl_days: int | None


class AudienceList(BaseModel):
    audiences: list[AudienceRow]


class LineError(BaseModel):
    line: int
    message: str


class ActivityRow(BaseModel):
    import_id: str
    audience: str
    kind: Literal["file", "run", "extend-ttl"]
    status: str
    uploaded_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    rows: int | None
    rows_done: int
    changes_total: int | None
    changes_applied: int
    qualified: int | None
    disqualified: int | None
    unchanged: int | None
    suppressed: int
    size_after: int | None
    error_count: int
    errors: list[LineError]
    message: str
    attempts: int
    last_failure: str


class ActivityList(BaseModel):
    activity: list[ActivityRow]
    next_cursor: str | None


class SizePoint(BaseModel):
    at: datetime
    size: int
    source: Literal["import", "now"]
    import_id: str | None = None


class SizeHistory(BaseModel):
    audience_id: str
    points: list[SizePoint]


class CustomerAudience(BaseModel):
    audience_id: str
    key: str
    name: str
    since: datetime


class Customer(BaseModel):
    field: str
    value: str
    known: bool  # False: no event or file has ever named this user
    audiences: list[CustomerAudience]


class PrivacyRow(BaseModel):
    request_id: str
    kind: str
    asked_through: str  # the API it came by (odp, segment, adobe) or the operator
    status: str
    step: str  # where a running request is
    subjects: int
    created_at: datetime
    finished_at: datetime | None


class PrivacyList(BaseModel):
    requests: list[PrivacyRow]


def privacy_row(request: PrivacyRequest) -> PrivacyRow:
    return PrivacyRow(
        request_id=request.request_id,
        kind=request.kind.value,
        asked_through=request.origin,
        status=request.status.value,
        step=request.step,
        subjects=request.subject_count,
        created_at=_moment(request.created_at),
        finished_at=_moment(request.finished_at) if request.finished_at is not None else None,
    )


def audience_row(audience: Audience, size: int) -> AudienceRow:
    return AudienceRow(
        audience_id=audience.audience_id,
        key=audience.key,
        name=audience.display_name,
        external_id=audience.external_id,
        size=size,
        enabled=audience.enabled,
        origin=audience.origin,
        created_at=audience.created_at,
        updated_at=audience.updated_at,
        updated_by=audience.updated_by,
        ttl_days=audience.ttl_days,
    )


def _moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _kind(record: ImportRecord) -> Literal["file", "run", "extend-ttl"]:
    """An ODP file, an Adobe run, or Adobe's re-confirmation of a run's members."""
    if record.import_id.startswith(RUN_PREFIX):
        return "run"
    return "extend-ttl" if record.import_id.startswith(RECONFIRM_PREFIX) else "file"


def activity_row(record: ImportRecord) -> ActivityRow:
    return ActivityRow(
        import_id=record.import_id,
        audience=record.audience,
        kind=_kind(record),
        status=record.status.value,
        uploaded_at=_moment(record.as_of),
        started_at=record.started_at,
        finished_at=record.finished_at,
        rows=record.rows,
        rows_done=record.rows_done,
        changes_total=record.changes_total,
        changes_applied=record.changes_applied,
        qualified=record.qualified,
        disqualified=record.disqualified,
        unchanged=record.unchanged,
        suppressed=record.suppressed,
        size_after=record.size_after,
        error_count=record.error_count,
        errors=[LineError(line=line, message=message) for line, message in record.errors],
        message=record.message,
        attempts=record.attempts,
        last_failure=record.last_failure,
    )


def size_history(audience: Audience, records: list[ImportRecord], size_now: int, now: float) -> SizeHistory:
    """Oldest first: the size each successful import left, then the size now."""
    points = [
        SizePoint(at=record.finished_at, size=record.size_after, source="import", import_id=record.import_id)
        for record in reversed(records)
        if record.size_after is not None and record.finished_at is not None
    ]
    points.append(SizePoint(at=_moment(now), size=size_now, source="now"))
    return SizeHistory(audience_id=audience.audience_id, points=points)


def customer(field: str, value: str, qualifications: list[Qualification] | None) -> Customer:
    rows = sorted(qualifications or [], key=lambda q: q.audience.display_name)
    return Customer(
        field=field,
        value=value,
        known=qualifications is not None,
        audiences=[
            CustomerAudience(
                audience_id=q.audience.audience_id,
                key=q.audience.key,
                name=q.audience.display_name,
                since=_moment(q.ts),
            )
            for q in rows
        ],
    )
