"""Adobe's ingestion runs: the run request, the run as Adobe shows it, and the list's parameters."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from audiences.domain import Audience, ImportRecord, ImportStatus
from audiences.errors import Problem
from audiences.json_bodies import json_object, refuse, unknown_fields

RUNS_PER_AUDIENCE_PER_DAY = 10  # Adobe's guardrails
RUNS_PER_SANDBOX_PER_DAY = 100
DAY_SECONDS = 86_400
DEFAULT_LIMIT, MAX_LIMIT = 20, 40
SORTS = ("createdAt", "-createdAt", "name", "-name")
_PROPERTY = re.compile(r"(status)=(\w+)|(createdAt)(>=|<=)(\d{1,12})")
_STATUSES = {"PROCESSING", "SUCCESS", "FAILED"}


@dataclass(frozen=True)
class Window:
    start: float
    end: float


def parse_run(body: str | None, now: float | None = None) -> Window:
    """dataFilterStartTime (required) to dataFilterEndTime (default now), epoch seconds, start <= end."""
    document = json_object(body) if body and body.strip() else {}
    problems: list[Problem] = []
    unknown_fields(document, {"dataFilterStartTime", "dataFilterEndTime"}, problems)
    now = time.time() if now is None else now
    start = _epoch(document, "dataFilterStartTime", None, problems)
    end = _epoch(document, "dataFilterEndTime", now, problems)
    if start is not None and end is not None and start > end:
        problems.append(Problem("dataFilterEndTime", "must not be before dataFilterStartTime"))
    refuse(problems)
    return Window(start, end)


def _epoch(document: dict, field: str, default: float | None, problems: list[Problem]) -> float | None:
    if field not in document:
        if default is None:
            problems.append(Problem(field, "is required: epoch seconds; files uploaded from then on are read"))
        return default
    value = document[field]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 10**11:
        problems.append(Problem(field, "must be epoch seconds (a whole number)"))
        return None
    return value


@dataclass(frozen=True)
class ShownRun:
    """A run as Adobe shows it: its record, and whether it is differential (every run but the first)."""

    record: ImportRecord
    run_id: str
    differential: bool


@dataclass(frozen=True)
class ListRequest:
    limit: int
    start: int
    newest_first: bool
    status: ImportStatus | None
    created_from: float | None
    created_to: float | None


def parse_list(query: Mapping[str, Sequence[str]]) -> ListRequest:
    """limit (1-40), start (offset, ours), sortBy, and property filters (status=…, createdAt>=…/<=…)."""
    problems: list[Problem] = []
    unknown_fields(dict(query), {"limit", "start", "sortBy", "property"}, problems)
    limit = _whole(query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT, problems)
    start = _whole(query, "start", 0, 0, 10_000, problems)
    sort = (query.get("sortBy") or ["-createdAt"])[-1]
    if sort not in SORTS:
        problems.append(Problem("sortBy", f"must be one of {', '.join(SORTS)}"))
    status, created = None, {}
    for entry in query.get("property") or []:
        match = _PROPERTY.fullmatch(entry)
        if match is None or (match.group(1) and match.group(2) not in _STATUSES):
            problems.append(
                Problem(
                    "property",
                    f"{entry!r}: use status=SUCCESS|FAILED|PROCESSING, createdAt>=<epoch s> or createdAt<=<epoch s>",
                )
            )
        elif match.group(1):
            status = ImportStatus(match.group(2))
        else:
            created[match.group(4)] = float(match.group(5))
    refuse(problems)
    # every run of an audience has the audience's name: by name is by creation, newest first within it
    newest_first = sort != "createdAt"
    return ListRequest(limit, start, newest_first, status, created.get(">="), created.get("<="))


def _whole(query, name: str, default: int, low: int, high: int, problems: list[Problem]) -> int:
    raw = (query.get(name) or [str(default)])[-1]
    if not raw.isdigit() or not low <= int(raw) <= high:
        problems.append(Problem(name, f"must be a whole number from {low} to {high}"))
        return default
    return int(raw)


def run_object(audience: Audience, shown: ShownRun) -> dict:
    """A run as Adobe shows it, plus (ours) its counts, its row errors and a message."""
    record, run_id, differential = shown.record, shown.run_id, shown.differential
    status = "FAILED" if record.status is ImportStatus.SKIPPED else record.status.value
    body = {
        "audienceName": audience.display_name,
        "audienceId": audience.audience_id,
        "runId": run_id,
        "status": status,
        "differentialIngestion": differential,
        "dataFilterStartTime": int(record.window_start),
        "dataFilterEndTime": int(record.window_end),
        "createdAt": int(record.as_of),
        "createdBy": record.created_by,
        "details": [
            {"stage": stage, "status": status, "flowRunId": f"{run_id}-{n}"}
            for n, stage in enumerate(("DATASET_INGEST", "PROFILE_STORE_INGEST"), start=1)
        ],
        "counts": {
            "rows": record.rows,
            "qualified": record.qualified,
            "disqualified": record.disqualified,
            "unchanged": record.unchanged,
            "suppressed": record.suppressed,
        },
        "errors": [_row_error(line, message) for line, message in record.errors],
        "errorCount": record.error_count,
    }
    if record.status is ImportStatus.PROCESSING:
        body["progress"] = {
            "rowsRead": record.rows_done,
            "changesApplied": record.changes_applied,
            "changesTotal": record.changes_total,  # null until the changes are planned
            "chunksApplied": record.chunks_done,
            "chunksTotal": record.chunks_total,
        }
    if record.message:
        body["message"] = record.message
    return body


def _row_error(line: int, message: str) -> dict:
    file, _, reason = message.partition(": ")
    return {"file": file, "line": line, "reason": reason}
