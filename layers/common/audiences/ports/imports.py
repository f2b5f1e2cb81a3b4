"""The import store: activity records and apply plans, each audience's last applied import, imports applied in
part, and import leases."""

from __future__ import annotations

import base64
import json
from typing import Protocol

from audiences.domain import AudienceImportState, ImportRecord, ImportStatus
from audiences.errors import InvalidInput

_IMPORT = "IMPORT#"


def import_sort_key(import_id: str) -> str:
    """A record's sort key in the imports table: in id order, apart from the table's other items."""
    return _IMPORT + import_id


def cursor_after(tenant_id: str, import_id: str) -> str:
    """Where a page of a tenant's records ends: the key DynamoDB resumes a Query at, opaque to clients."""
    last = {"pk": {"S": tenant_id}, "sk": {"S": import_sort_key(import_id)}}
    return base64.urlsafe_b64encode(json.dumps(last).encode()).decode()


def import_id_after(tenant_id: str, cursor: str) -> str:
    """The import id a cursor of `cursor_after` ends at; InvalidInput for any other string, another tenant's
    cursor included."""
    try:
        start = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        valid = start["pk"] == {"S": tenant_id} and start["sk"]["S"].startswith(_IMPORT)
    except (ValueError, KeyError, TypeError, AttributeError):
        valid = False
    if not valid:
        raise InvalidInput("cursor is not one this API returned")
    return start["sk"]["S"].removeprefix(_IMPORT)


class StateMoved(Exception):
    """Another import advanced the audience's state first."""


class ImportStore(Protocol):
    def begin(self, tenant_id: str, record: ImportRecord) -> ImportRecord:
        """Create the PROCESSING record, or return the one a previous delivery created."""
        ...

    def get(self, tenant_id: str, import_id: str) -> ImportRecord | None: ...

    def update(self, tenant_id: str, import_id: str, **changes) -> ImportRecord | None:
        """Change a PROCESSING record and return it as stored; None if it is finished (final, unchanged).
        ValueError for a field that is fixed once begun."""
        ...

    def finish(self, tenant_id: str, import_id: str, status: ImportStatus, **changes) -> ImportRecord | None:
        """`update` to a final status, stamped with the time it finished."""
        ...

    def plan(
        self, tenant_id: str, import_id: str, chunks_total: int, changes_total: int, plan_json: str, **changes
    ) -> str:
        """Record a PROCESSING import's apply plan, once; returns the plan as stored (the first one wins)."""
        ...

    def planned(self, tenant_id: str, import_id: str) -> str | None:
        """The import's apply plan, if one was recorded."""
        ...

    def chunk_applied(self, tenant_id: str, import_id: str, chunk: int, changes: int) -> ImportRecord | None:
        """Count chunk `chunk` (of `changes` changes) as applied, once however often it is reported; the record
        as stored, or None if the import has finished."""
        ...

    def chunks_done(self, tenant_id: str, import_id: str) -> set[int]: ...

    def unsettled(self, tenant_id: str, segment_id: str) -> list[dict]:
        """The audience's imports whose apply failed part way, oldest first."""
        ...

    def add_unsettled(self, tenant_id: str, segment_id: str, entry: dict) -> None:
        """Note an import whose apply failed part way (once, however often it is noted)."""
        ...

    def settle(self, tenant_id: str, segment_id: str, entries: list[dict]) -> None:
        """Forget `entries`: an import that set each of their users as its file says has succeeded."""
        ...

    def page(
        self, tenant_id: str, audience: str | None, status: ImportStatus | None, cursor: str | None, limit: int
    ) -> tuple[list[ImportRecord], str | None]:
        """Newest first, filtered; the cursor is opaque to clients, and InvalidInput unless this store gave it
        for this tenant."""
        ...

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
        """The records whose import id starts with `prefix` (and sorts between `after` and `before`), in id
        order, `skip` of them skipped, at most `limit`; and how many match in all."""
        ...

    def first_with_prefix(self, tenant_id: str, prefix: str) -> ImportRecord | None:
        """The record with the lowest import id starting with `prefix`."""
        ...

    def state(self, tenant_id: str, segment_id: str) -> AudienceImportState | None: ...

    def advance(
        self, tenant_id: str, segment_id: str, new: AudienceImportState, previous_import_id: str | None
    ) -> None:
        """Make `new` the audience's state, if it is still `previous_import_id` (None: no import yet); else
        StateMoved."""
        ...

    def acquire_lease(self, tenant_id: str, segment_id: str, holder: str, seconds: int) -> bool:
        """Hold the audience's lease for `seconds`, if it is free, expired or already the holder's."""
        ...

    def release_lease(self, tenant_id: str, segment_id: str, holder: str) -> None:
        """Free the lease if `holder` holds it; another holder's lease stays."""
        ...

    def leases_held(self, tenant_id: str, taken_by: float) -> int:
        """How many of the tenant's audiences an import holds now that took its lease by `taken_by` (expired
        leases are free; a renewal keeps when the lease was taken)."""
        ...
