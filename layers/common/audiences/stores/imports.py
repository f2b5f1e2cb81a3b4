"""The imports table: activity records and apply plans, each audience's last applied import, imports applied in
part, and import leases."""

from __future__ import annotations

import json
import time
from dataclasses import fields
from datetime import UTC, datetime

from pynamodb.exceptions import DeleteError, PutError, UpdateError

from audiences.domain import AudienceImportState, ImportRecord, ImportStatus
from audiences.ports.imports import StateMoved, cursor_after, import_id_after, import_sort_key
from audiences.stores.conditions import condition_failed
from audiences.stores.models import AudienceImportStateItem, ImportItem, ImportLeaseItem, UnsettledItem

_IMPORT = import_sort_key("")


def _record(item: ImportItem) -> ImportRecord:
    return ImportRecord(
        import_id=item.sk.removeprefix(_IMPORT),
        audience=item.audience,
        source=item.source,
        as_of=float(item.as_of),
        status=ImportStatus(item.status),
        started_at=item.started_at,
        finished_at=item.finished_at,
        rows=None if item.rows is None else int(item.rows),
        qualified=None if item.qualified is None else int(item.qualified),
        disqualified=None if item.disqualified is None else int(item.disqualified),
        unchanged=None if item.unchanged is None else int(item.unchanged),
        suppressed=int(item.suppressed or 0),
        errors=tuple((int(e["line"]), e["message"]) for e in item.errors),
        error_count=int(item.error_count),
        message=item.message,
        rows_done=int(item.rows_done),
        changes_applied=int(item.changes_applied),
        attempts=int(item.attempts),
        last_failure=item.last_failure,
        window_start=None if item.window_start is None else float(item.window_start),
        window_end=None if item.window_end is None else float(item.window_end),
        created_by=item.created_by,
        chunks_total=None if item.chunks_total is None else int(item.chunks_total),
        chunks_done=len(item.chunks_done or ()),
        changes_total=None if item.changes_total is None else int(item.changes_total),
        size_after=None if item.size_after is None else int(item.size_after),
    )


def begin(tenant_id: str, record: ImportRecord) -> ImportRecord:
    """Create the PROCESSING record, or return the one a previous delivery created."""
    item = ImportItem(
        tenant_id,
        _IMPORT + record.import_id,
        audience=record.audience,
        source=record.source,
        as_of=record.as_of,
        status=ImportStatus.PROCESSING.value,
        started_at=datetime.now(UTC),
        window_start=record.window_start,
        window_end=record.window_end,
        created_by=record.created_by,
    )
    try:
        item.save(condition=ImportItem.pk.does_not_exist())
        return _record(item)
    except PutError as error:
        if not condition_failed(error):
            raise
    return get(tenant_id, record.import_id)


def get(tenant_id: str, import_id: str) -> ImportRecord | None:
    try:
        return _record(ImportItem.get(tenant_id, _IMPORT + import_id, consistent_read=True))
    except ImportItem.DoesNotExist:
        return None


_FIXED = {"import_id", "audience", "source", "as_of", "started_at", "window_start", "window_end", "created_by"}
_FIXED |= {"chunks_total", "chunks_done", "changes_total"}  # set by plan() and chunk_applied() alone
_UPDATABLE = {f.name for f in fields(ImportRecord)} - _FIXED


def update(tenant_id: str, import_id: str, **changes) -> ImportRecord | None:
    """Change a PROCESSING record and return it as stored; None if it is finished (final, unchanged)."""
    unknown = set(changes) - _UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {', '.join(sorted(unknown))}")
    actions = []
    for name, value in changes.items():
        if name == "errors":
            value = [{"line": line, "message": message} for line, message in value]
        elif name == "status":
            value = value.value
        actions.append(getattr(ImportItem, name).set(value))
    item = ImportItem(tenant_id, _IMPORT + import_id)
    try:
        item.update(actions=actions, condition=ImportItem.status == ImportStatus.PROCESSING.value)
    except UpdateError as error:
        if not condition_failed(error):
            raise
        return None
    return _record(item)  # PynamoDB refreshed the item from the update's ALL_NEW answer


def plan(tenant_id: str, import_id: str, chunks_total: int, changes_total: int, plan_json: str, **changes) -> str:
    """Record a PROCESSING import's apply plan, once; returns the plan as stored (the first one wins)."""
    actions = [
        ImportItem.chunks_total.set(chunks_total),
        ImportItem.changes_total.set(changes_total),
        ImportItem.plan.set(plan_json),
        *(getattr(ImportItem, name).set(value) for name, value in changes.items()),
    ]
    item = ImportItem(tenant_id, _IMPORT + import_id)
    condition = (ImportItem.status == ImportStatus.PROCESSING.value) & ImportItem.plan.does_not_exist()
    try:
        item.update(actions=actions, condition=condition)
        return plan_json
    except UpdateError as error:
        if not condition_failed(error):
            raise
    return planned(tenant_id, import_id) or plan_json


def planned(tenant_id: str, import_id: str) -> str | None:
    """The import's apply plan, if one was recorded."""
    try:
        return ImportItem.get(tenant_id, _IMPORT + import_id, consistent_read=True, attributes_to_get=["plan"]).plan
    except ImportItem.DoesNotExist:
        return None


def chunk_applied(tenant_id: str, import_id: str, chunk: int, changes: int) -> ImportRecord | None:
    """Count chunk `chunk` (of `changes` changes) as applied, once however often it is reported; the
    record as stored, or None if the import has finished."""
    item = ImportItem(tenant_id, _IMPORT + import_id)
    actions = [ImportItem.chunks_done.add({chunk}), ImportItem.changes_applied.add(changes)]
    condition = (ImportItem.status == ImportStatus.PROCESSING.value) & ~ImportItem.chunks_done.contains(chunk)
    try:
        item.update(actions=actions, condition=condition)
    except UpdateError as error:
        if not condition_failed(error):
            raise
        record = get(tenant_id, import_id)
        return record if record and record.status is ImportStatus.PROCESSING else None
    return _record(item)


def chunks_done(tenant_id: str, import_id: str) -> set[int]:
    try:
        item = ImportItem.get(tenant_id, _IMPORT + import_id, consistent_read=True, attributes_to_get=["chunks_done"])
    except ImportItem.DoesNotExist:
        return set()
    return {int(n) for n in item.chunks_done or ()}


def unsettled(tenant_id: str, segment_id: str) -> list[dict]:
    """The audience's imports whose apply failed part way, oldest first."""
    try:
        return json.loads(UnsettledItem.get(tenant_id, f"UNSETTLED#{segment_id}", consistent_read=True).imports)
    except UnsettledItem.DoesNotExist:
        return []


def add_unsettled(tenant_id: str, segment_id: str, entry: dict) -> None:
    """Note an import whose apply failed part way (once, however often it is noted)."""
    entries = unsettled(tenant_id, segment_id)
    if entry not in entries:
        UnsettledItem(tenant_id, f"UNSETTLED#{segment_id}", imports=json.dumps([*entries, entry])).save()


def settle(tenant_id: str, segment_id: str, entries: list[dict]) -> None:
    """Forget `entries`: an import that set each of their users as its file says has succeeded."""
    left = [entry for entry in unsettled(tenant_id, segment_id) if entry not in entries]
    if left:
        UnsettledItem(tenant_id, f"UNSETTLED#{segment_id}", imports=json.dumps(left)).save()
    else:
        UnsettledItem(tenant_id, f"UNSETTLED#{segment_id}").delete()


def finish(tenant_id: str, import_id: str, status: ImportStatus, **changes) -> ImportRecord | None:
    return update(tenant_id, import_id, status=status, finished_at=datetime.now(UTC), **changes)


def page(
    tenant_id: str, audience: str | None, status: ImportStatus | None, cursor: str | None, limit: int
) -> tuple[list[ImportRecord], str | None]:
    """Newest first, filtered; the cursor is where DynamoDB stopped, opaque to clients."""
    condition = None
    if audience is not None:
        condition = ImportItem.audience == audience
    if status is not None:
        by_status = ImportItem.status == status.value
        condition = by_status if condition is None else condition & by_status
    start = {"pk": {"S": tenant_id}, "sk": {"S": _IMPORT + import_id_after(tenant_id, cursor)}} if cursor else None
    results = ImportItem.query(
        tenant_id,
        ImportItem.sk.startswith(_IMPORT),
        filter_condition=condition,
        scan_index_forward=False,
        last_evaluated_key=start,
        page_size=max(limit, 25),
    )
    records: list[ImportRecord] = []
    for item in results:
        records.append(_record(item))
        if len(records) == limit:
            return records, cursor_after(tenant_id, records[-1].import_id)
    return records, None


def with_prefix(
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
    order, `skip` of them skipped, at most `limit`; and how many match in all (a COUNT query)."""
    low, high = prefix + (after or ""), prefix + (before or "") + "\uffff"
    key = ImportItem.sk.between(_IMPORT + low, _IMPORT + high)
    condition = ImportItem.status == status.value if status else None
    total = ImportItem.count(tenant_id, key, filter_condition=condition)
    items = ImportItem.query(
        tenant_id, key, filter_condition=condition, scan_index_forward=not newest_first, limit=skip + limit
    )
    return [_record(item) for item in items][skip:], total


def first_with_prefix(tenant_id: str, prefix: str) -> ImportRecord | None:
    """The record with the lowest import id starting with `prefix`: one Query of one item."""
    items = ImportItem.query(tenant_id, ImportItem.sk.startswith(_IMPORT + prefix), limit=1)
    return next((_record(item) for item in items), None)


def state(tenant_id: str, segment_id: str) -> AudienceImportState | None:
    try:
        item = AudienceImportStateItem.get(tenant_id, f"STATE#{segment_id}", consistent_read=True)
    except AudienceImportStateItem.DoesNotExist:
        return None
    return AudienceImportState(
        import_id=item.import_id,
        as_of=float(item.as_of),
        snapshot_key=item.snapshot_key,
        identifier=item.identifier,
        external_id=item.external_id,
    )


def advance(tenant_id: str, segment_id: str, new: AudienceImportState, previous_import_id: str | None) -> None:
    """Make `new` the audience's state, if it is still `previous_import_id` (None: no import yet)."""
    item = AudienceImportStateItem(
        tenant_id,
        f"STATE#{segment_id}",
        import_id=new.import_id,
        as_of=new.as_of,
        snapshot_key=new.snapshot_key,
        identifier=new.identifier,
        external_id=new.external_id,
    )
    condition = (
        AudienceImportStateItem.pk.does_not_exist()
        if previous_import_id is None
        else AudienceImportStateItem.import_id == previous_import_id
    )
    try:
        item.save(condition=condition)
    except PutError as error:
        if condition_failed(error):
            raise StateMoved(segment_id) from error
        raise


def acquire_lease(tenant_id: str, segment_id: str, holder: str, seconds: int) -> bool:
    now = time.time()
    lease = ImportLeaseItem(tenant_id, f"LEASE#{segment_id}")
    renewed = [ImportLeaseItem.expires_at.set(int(now) + seconds)]
    taken = [*renewed, ImportLeaseItem.holder.set(holder), ImportLeaseItem.taken_at.set(now)]
    # Its holder renews it (one request: a chunk's apply does, the most frequent), keeping when it was taken, which
    # a privacy job waits by; anyone takes it free or expired, as of now (a second request, once an import).
    for actions, condition in (
        (renewed, ImportLeaseItem.holder == holder),
        (taken, ImportLeaseItem.pk.does_not_exist() | (ImportLeaseItem.expires_at < int(now))),
    ):
        try:
            lease.update(actions=actions, condition=condition)
            return True
        except UpdateError as error:
            if not condition_failed(error):
                raise
    return False


def release_lease(tenant_id: str, segment_id: str, holder: str) -> None:
    try:
        ImportLeaseItem(tenant_id, f"LEASE#{segment_id}").delete(condition=ImportLeaseItem.holder == holder)
    except DeleteError as error:
        if not condition_failed(error):  # another holder's lease (ours had expired): not ours to free
            raise


def leases_held(tenant_id: str, taken_by: float) -> int:
    """One Query of the tenant's lease items: those not yet expired and taken by `taken_by` counted."""
    now = int(time.time())
    leases = ImportLeaseItem.query(
        tenant_id,
        ImportLeaseItem.sk.startswith("LEASE#"),
        filter_condition=(ImportLeaseItem.expires_at >= now) & (ImportLeaseItem.taken_at <= taken_by),
    )
    return sum(1 for _ in leases)
