"""Import records, plans, audience states, unsettled imports and leases in memory."""

from __future__ import annotations

import threading
import time
from dataclasses import fields, replace
from datetime import UTC, datetime

from audiences.domain import AudienceImportState, ImportRecord, ImportStatus
from audiences.ports.imports import StateMoved, cursor_after, import_id_after

_FIXED = {"import_id", "audience", "source", "as_of", "started_at", "window_start", "window_end", "created_by"}
_FIXED |= {"chunks_total", "chunks_done", "changes_total"}  # set by plan() and chunk_applied() alone
_UPDATABLE = {f.name for f in fields(ImportRecord)} - _FIXED


class InMemoryImports:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[tuple[str, str], ImportRecord] = {}
        self._plans: dict[tuple[str, str], str] = {}
        self._chunks: dict[tuple[str, str], set[int]] = {}
        self._states: dict[tuple[str, str], AudienceImportState] = {}
        self._unsettled: dict[tuple[str, str], list[dict]] = {}
        self._leases: dict[tuple[str, str], tuple[str, int, float]] = {}  # holder, expires at, taken at

    def begin(self, tenant_id: str, record: ImportRecord) -> ImportRecord:
        with self._lock:
            begun = ImportRecord(
                import_id=record.import_id,
                audience=record.audience,
                source=record.source,
                as_of=record.as_of,
                started_at=datetime.now(UTC),
                window_start=record.window_start,
                window_end=record.window_end,
                created_by=record.created_by,
            )
            return self._records.setdefault((tenant_id, record.import_id), begun)

    def get(self, tenant_id: str, import_id: str) -> ImportRecord | None:
        with self._lock:
            return self._records.get((tenant_id, import_id))

    def update(self, tenant_id: str, import_id: str, **changes) -> ImportRecord | None:
        if unknown := set(changes) - _UPDATABLE:
            raise ValueError(f"not updatable: {', '.join(sorted(unknown))}")
        with self._lock:
            return self._change(tenant_id, import_id, **changes)

    def _change(self, tenant_id: str, import_id: str, **changes) -> ImportRecord | None:
        record = self._records.get((tenant_id, import_id))
        if record is None or record.status is not ImportStatus.PROCESSING:
            return None
        if "errors" in changes:
            changes["errors"] = tuple(tuple(error) for error in changes["errors"])
        self._records[tenant_id, import_id] = changed = replace(record, **changes)
        return changed

    def finish(self, tenant_id: str, import_id: str, status: ImportStatus, **changes) -> ImportRecord | None:
        return self.update(tenant_id, import_id, status=status, finished_at=datetime.now(UTC), **changes)

    def plan(
        self, tenant_id: str, import_id: str, chunks_total: int, changes_total: int, plan_json: str, **changes
    ) -> str:
        with self._lock:
            record = self._records.get((tenant_id, import_id))
            if record is None or record.status is not ImportStatus.PROCESSING or (tenant_id, import_id) in self._plans:
                return self._plans.get((tenant_id, import_id), plan_json)
            self._change(tenant_id, import_id, chunks_total=chunks_total, changes_total=changes_total, **changes)
            self._plans[tenant_id, import_id] = plan_json
            return plan_json

    def planned(self, tenant_id: str, import_id: str) -> str | None:
        with self._lock:
            return self._plans.get((tenant_id, import_id))

    def chunk_applied(self, tenant_id: str, import_id: str, chunk: int, changes: int) -> ImportRecord | None:
        with self._lock:
            record = self._records.get((tenant_id, import_id))
            if record is None or record.status is not ImportStatus.PROCESSING:
                return None
            done = self._chunks.setdefault((tenant_id, import_id), set())
            if chunk not in done:
                done.add(chunk)
                record = self._change(
                    tenant_id, import_id, chunks_done=len(done), changes_applied=record.changes_applied + changes
                )
            return record

    def chunks_done(self, tenant_id: str, import_id: str) -> set[int]:
        with self._lock:
            return set(self._chunks.get((tenant_id, import_id), ()))

    def unsettled(self, tenant_id: str, segment_id: str) -> list[dict]:
        with self._lock:
            return list(self._unsettled.get((tenant_id, segment_id), []))

    def add_unsettled(self, tenant_id: str, segment_id: str, entry: dict) -> None:
        with self._lock:
            entries = self._unsettled.setdefault((tenant_id, segment_id), [])
            if entry not in entries:
                entries.append(entry)

    def settle(self, tenant_id: str, segment_id: str, entries: list[dict]) -> None:
        with self._lock:
            left = [entry for entry in self._unsettled.get((tenant_id, segment_id), []) if entry not in entries]
            self._unsettled[tenant_id, segment_id] = left

    def _of(self, tenant_id: str) -> list[ImportRecord]:
        """The tenant's records in id order."""
        with self._lock:
            return sorted((r for (t, _), r in self._records.items() if t == tenant_id), key=lambda r: r.import_id)

    def page(
        self, tenant_id: str, audience: str | None, status: ImportStatus | None, cursor: str | None, limit: int
    ) -> tuple[list[ImportRecord], str | None]:
        before = import_id_after(tenant_id, cursor) if cursor else None
        records = [
            record
            for record in reversed(self._of(tenant_id))
            if (before is None or record.import_id < before)
            and audience in (None, record.audience)
            and status in (None, record.status)
        ]
        if len(records) < limit:
            return records, None
        return records[:limit], cursor_after(tenant_id, records[limit - 1].import_id)

    def with_prefix(
        self,
        tenant_id: str,
        prefix: str,
        *,
        newest_first: bool,
        skip: int,
        limit: int,
        status: ImportStatus | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> tuple[list[ImportRecord], int]:
        low, high = prefix + (after or ""), prefix + (before or "") + "\uffff"
        matching = [r for r in self._of(tenant_id) if low <= r.import_id <= high and status in (None, r.status)]
        ordered = matching[::-1] if newest_first else matching
        return ordered[skip : skip + limit], len(matching)

    def first_with_prefix(self, tenant_id: str, prefix: str) -> ImportRecord | None:
        return next((r for r in self._of(tenant_id) if r.import_id.startswith(prefix)), None)

    def state(self, tenant_id: str, segment_id: str) -> AudienceImportState | None:
        with self._lock:
            return self._states.get((tenant_id, segment_id))

    def advance(
        self, tenant_id: str, segment_id: str, new: AudienceImportState, previous_import_id: str | None
    ) -> None:
        with self._lock:
            current = self._states.get((tenant_id, segment_id))
            if (current.import_id if current else None) != previous_import_id:
                raise StateMoved(segment_id)
            self._states[tenant_id, segment_id] = new

    def acquire_lease(self, tenant_id: str, segment_id: str, holder: str, seconds: int) -> bool:
        now = int(time.time())
        with self._lock:
            lease = self._leases.get((tenant_id, segment_id))
            if lease is not None and lease[1] >= now and lease[0] != holder:
                return False
            renewed = lease is not None and lease[0] == holder  # a renewal keeps when it was taken, as the table's
            taken_at = lease[2] if renewed else time.time()
            self._leases[tenant_id, segment_id] = (holder, now + seconds, taken_at)
            return True

    def release_lease(self, tenant_id: str, segment_id: str, holder: str) -> None:
        with self._lock:
            if self._leases.get((tenant_id, segment_id), (None,))[0] == holder:
                del self._leases[tenant_id, segment_id]

    def leases_held(self, tenant_id: str, taken_by: float) -> int:
        now = int(time.time())
        with self._lock:
            return sum(
                1
                for (tenant, _), (_, until, taken_at) in self._leases.items()
                if tenant == tenant_id and until >= now and taken_at <= taken_by
            )
