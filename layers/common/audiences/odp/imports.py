"""The imports activity log and upload helper, as the management API shows them."""

from __future__ import annotations

from datetime import UTC, datetime

from audiences.domain import ImportRecord, ImportStatus
from audiences.errors import InvalidInput
from audiences.importer import MAX_PARTS, MultipartTarget, UploadTarget
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
        "key": record.source,
        "status": record.status.value,
        "uploaded_at": datetime.fromtimestamp(record.as_of, UTC).isoformat(),
        "started_at": record.started_at.isoformat() if record.started_at else None,
        "finished_at": record.finished_at.isoformat() if record.finished_at else None,
        "duration_ms": duration,
        "rows": record.rows,
        "qualified": record.qualified,
        "disqualified": record.disqualified,
        "unchanged": record.unchanged,
        "suppressed": record.suppressed,
        "errors": [{"line": line, "message": message} for line, message in record.errors],
        "error_count": record.error_count,
        "message": record.message,
    }
    if record.status is ImportStatus.PROCESSING:
        body["progress"] = {
            "rows_done": record.rows_done,
            "changes_applied": record.changes_applied,
            "changes_total": record.changes_total,  # null until the changes are planned
            "chunks_done": record.chunks_done,
            "chunks_total": record.chunks_total,
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


def target_body(target: UploadTarget | MultipartTarget) -> dict:
    return multipart_target_body(target) if isinstance(target, MultipartTarget) else upload_target_body(target)


def upload_target_body(target: UploadTarget) -> dict:
    return {
        "url": target.url,
        "method": "PUT",
        "key": target.key,
        "expires_at": target.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def upload_request(body: str | None) -> tuple[str, int | None]:
    """The segment id an upload URL is asked for, and how many parts, for a multipart upload."""
    document = decode_json(body)
    shape = 'the body must be {"audience": "<segment id>"}, with "parts": <1 to 10000> for a multipart upload'
    if not isinstance(document, dict) or not set(document) <= {"audience", "parts"} or "audience" not in document:
        raise InvalidInput(shape)
    if not isinstance(document["audience"], str):
        raise InvalidInput(shape)
    parts = document.get("parts")
    if parts is not None and (isinstance(parts, bool) or not isinstance(parts, int) or not 1 <= parts <= MAX_PARTS):
        raise InvalidInput(f"parts must be a whole number from 1 to {MAX_PARTS}, got {parts!r}")
    return checked_segment_id(document["audience"]), parts


def multipart_target_body(target: MultipartTarget) -> dict:
    return {
        "method": "PUT",
        "key": target.key,
        "upload_id": target.upload_id,
        "parts": [{"part_number": n, "url": url} for n, url in enumerate(target.part_urls, start=1)],
        "expires_at": target.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def completion_request(body: str | None) -> tuple[str, str, list[tuple[int, str]]]:
    """The segment id, upload id and parts (number, ETag) a multipart upload is completed with."""
    document = decode_json(body)
    shape = (
        'the body must be {"audience": "<segment id>", "upload_id": "<as the upload URL answered>", '
        '"parts": [{"part_number": 1, "etag": "<the ETag header its PUT answered>"}, ...]}'
    )
    if not isinstance(document, dict) or set(document) != {"audience", "upload_id", "parts"}:
        raise InvalidInput(shape)
    audience, upload_id, parts = document["audience"], document["upload_id"], document["parts"]
    if not isinstance(audience, str) or not isinstance(upload_id, str) or not upload_id:
        raise InvalidInput(shape)
    if not isinstance(parts, list) or not 1 <= len(parts) <= MAX_PARTS:
        raise InvalidInput(f"parts must list 1 to {MAX_PARTS} parts: {shape}")
    checked = []
    for index, part in enumerate(parts):
        number = part.get("part_number") if isinstance(part, dict) else None
        etag = part.get("etag") if isinstance(part, dict) else None
        if set(part if isinstance(part, dict) else ()) != {"part_number", "etag"} or not (
            isinstance(number, int) and not isinstance(number, bool) and isinstance(etag, str) and etag
        ):
            raise InvalidInput(f'parts[{index}] must be {{"part_number": <1 to {MAX_PARTS}>, "etag": "<ETag>"}}')
        checked.append((number, etag))
    return checked_segment_id(audience), upload_id, checked
