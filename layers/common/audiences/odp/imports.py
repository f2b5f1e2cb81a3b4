"""The imports activity log and upload helper, as the management API shows them."""

from __future__ import annotations

from datetime import UTC, datetime

from audiences.domain import ImportRecord, ImportStatus
from audiences.errors import InvalidInput
from audiences.importer import UploadTarget
from audiences.json_bodies import decode_json
from audiences.odp.segments import checked_segment_id

DEFAULT_PAGE = 50
MAX_PAGE = 100


def record_body(record: ImportRecord) -> dict:
    duration = None
    if record.started_at and record.finished_at:
        duration = int((record.finished_at - record.started_at).total_seconds() * 1000)
    body = {
        "import_id": record.import_id,
        "audience": record.audience,
        "key": record.s3_key,
        "status": record.status.value,
        "uploaded_at": datetime.fromtimestamp(record.uploaded_at, UTC).isoformat(),
        "started_at": record.started_at.isoformat() if record.started_at else None,
        "finished_at": record.finished_at.isoformat() if record.finished_at else None,
        "duration_ms": duration,
        "rows": record.rows,
        "qualified": record.qualified,
        "disqualified": record.disqualified,
        "unchanged": record.unchanged,
        "errors": [{"line": line, "message": message} for line, message in record.errors],
        "error_count": record.error_count,
        "message": record.message,
    }
    if record.status is ImportStatus.PROCESSING:
        body["progress"] = {
            "rows_done": record.rows_done,
            "changes_applied": record.changes_applied,
            "failed_attempts": record.attempts,
        }
    return body


def page_arguments(query: dict[str, str]) -> tuple[str | None, ImportStatus | None, str | None, int]:
    """audience, status, cursor and limit from the query string, each checked."""
    unknown = sorted(set(query) - {"audience", "status", "cursor", "limit"})
    if unknown:
        raise InvalidInput(f"unknown parameter(s) {', '.join(unknown)}: use audience, status, cursor, limit")
    audience = checked_segment_id(query["audience"]) if "audience" in query else None
    status = None
    if "status" in query:
        try:
            status = ImportStatus(query["status"].upper())
        except ValueError as error:
            allowed = ", ".join(s.value for s in ImportStatus)
            raise InvalidInput(f"status must be one of {allowed}, got {query['status']!r}") from error
    raw_limit = query.get("limit", str(DEFAULT_PAGE))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_PAGE:
        raise InvalidInput(f"limit must be 1 to {MAX_PAGE}, got {raw_limit!r}")
    return audience, status, query.get("cursor"), int(raw_limit)


def upload_target_body(target: UploadTarget) -> dict:
    return {
        "url": target.url,
        "method": "PUT",
        "key": target.key,
        "expires_at": target.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def upload_request(body: str | None) -> str:
    """The segment id an upload URL is asked for."""
    document = decode_json(body)
    if not isinstance(document, dict) or set(document) != {"audience"} or not isinstance(document["audience"], str):
        raise InvalidInput('the body must be {"audience": "<segment id>"}')
    return checked_segment_id(document["audience"])
