"""The import store's contract (audiences.ports.imports), on DynamoDB and in memory."""

from __future__ import annotations

import time

import pytest

from audiences.domain import AudienceImportState, ImportRecord, ImportStatus
from audiences.errors import InvalidInput
from audiences.ports.imports import StateMoved


def begin(stores, import_id: str, audience: str = "vip", tenant: str = "t1") -> ImportRecord:
    return stores.imports.begin(tenant, ImportRecord(import_id, audience, f"src/{import_id}", 7.0, created_by="k"))


def test_begin_is_once_and_only_processing_records_change(stores):
    first = begin(stores, "i1")
    assert (first.status, first.source, first.as_of, first.created_by) == (ImportStatus.PROCESSING, "src/i1", 7.0, "k")
    assert first.started_at is not None and begin(stores, "i1") == first
    updated = stores.imports.update("t1", "i1", rows_done=5, errors=((3, "bad"),), message="m")
    assert (updated.rows_done, updated.errors, updated.message) == (5, ((3, "bad"),), "m")
    assert stores.imports.get("t1", "i1") == updated
    with pytest.raises(ValueError, match="not updatable: source"):
        stores.imports.update("t1", "i1", source="elsewhere")
    finished = stores.imports.finish("t1", "i1", ImportStatus.SUCCESS, rows=5)
    assert (finished.status, finished.rows) == (ImportStatus.SUCCESS, 5) and finished.finished_at
    assert stores.imports.update("t1", "i1", rows=6) is None
    assert stores.imports.finish("t1", "i1", ImportStatus.FAILED) is None
    assert stores.imports.get("t1", "i1") == finished
    assert stores.imports.get("t2", "i1") is None and stores.imports.update("t1", "nope", rows=1) is None


def test_the_first_plan_wins_and_chunks_count_once(stores):
    begin(stores, "i1")
    assert stores.imports.plan("t1", "i1", 3, 30, '{"plan": 1}', qualified=20) == '{"plan": 1}'
    assert stores.imports.plan("t1", "i1", 9, 90, '{"plan": 2}') == '{"plan": 1}'
    assert stores.imports.planned("t1", "i1") == '{"plan": 1}' and stores.imports.planned("t1", "nope") is None
    record = stores.imports.get("t1", "i1")
    assert (record.chunks_total, record.changes_total, record.qualified) == (3, 30, 20)
    stores.imports.chunk_applied("t1", "i1", 0, 10)
    again = stores.imports.chunk_applied("t1", "i1", 0, 10)
    counted = stores.imports.chunk_applied("t1", "i1", 2, 10)
    assert (again.chunks_done, again.changes_applied) == (1, 10)
    assert (counted.chunks_done, counted.changes_applied) == (2, 20)
    assert stores.imports.chunks_done("t1", "i1") == {0, 2} and stores.imports.chunks_done("t1", "nope") == set()
    stores.imports.finish("t1", "i1", ImportStatus.SUCCESS)
    assert stores.imports.chunk_applied("t1", "i1", 1, 10) is None


def test_pages_are_newest_first_filtered_and_a_cursor_is_only_its_tenants(stores):
    for n in range(5):
        begin(stores, f"i{n}", audience="vip" if n % 2 else "other")
    stores.imports.finish("t1", "i3", ImportStatus.FAILED)
    begin(stores, "i9", tenant="t2")
    page, cursor = stores.imports.page("t1", None, None, None, 2)
    assert [r.import_id for r in page] == ["i4", "i3"] and cursor
    page, cursor = stores.imports.page("t1", None, None, cursor, 2)
    assert [r.import_id for r in page] == ["i2", "i1"]
    page, cursor = stores.imports.page("t1", None, None, cursor, 2)
    assert ([r.import_id for r in page], cursor) == (["i0"], None)
    assert [r.import_id for r in stores.imports.page("t1", "vip", None, None, 10)[0]] == ["i3", "i1"]
    assert [r.import_id for r in stores.imports.page("t1", None, ImportStatus.FAILED, None, 10)[0]] == ["i3"]
    _, first = stores.imports.page("t1", None, None, None, 1)
    for foreign in (first, "not-a-cursor", stores.imports.page("t2", None, None, None, 1)[1] or "x"):
        with pytest.raises(InvalidInput):
            stores.imports.page("t2" if foreign == first else "t1", None, None, foreign, 1)


def test_records_by_id_prefix_with_counts(stores):
    for run_id in ("r1", "r2", "r3", "r4"):
        begin(stores, f"run-a-{run_id}")
    begin(stores, "run-b-r1")
    stores.imports.finish("t1", "run-a-r2", ImportStatus.FAILED)
    newest, total = stores.imports.with_prefix("t1", "run-a-", newest_first=True, skip=1, limit=2)
    assert ([r.import_id for r in newest], total) == (["run-a-r3", "run-a-r2"], 4)
    oldest, _ = stores.imports.with_prefix("t1", "run-a-", newest_first=False, skip=0, limit=10, after="r2")
    assert [r.import_id for r in oldest] == ["run-a-r2", "run-a-r3", "run-a-r4"]
    bounded, total = stores.imports.with_prefix("t1", "run-a-", newest_first=False, skip=0, limit=10, before="r2")
    assert ([r.import_id for r in bounded], total) == (["run-a-r1", "run-a-r2"], 2)
    failed, total = stores.imports.with_prefix(
        "t1", "run-a-", newest_first=True, skip=0, limit=10, status=ImportStatus.FAILED
    )
    assert ([r.import_id for r in failed], total) == (["run-a-r2"], 1)
    assert stores.imports.first_with_prefix("t1", "run-a-").import_id == "run-a-r1"
    assert stores.imports.first_with_prefix("t1", "run-c-") is None


def test_an_audience_state_advances_only_from_the_one_read(stores):
    first = AudienceImportState("i1", 1.0, "snap/i1", "email", "vip")
    second = AudienceImportState("i2", 2.0, "snap/i2", "email", "vip")
    assert stores.imports.state("t1", "vip") is None
    stores.imports.advance("t1", "vip", first, None)
    with pytest.raises(StateMoved):
        stores.imports.advance("t1", "vip", second, None)
    stores.imports.advance("t1", "vip", second, "i1")
    with pytest.raises(StateMoved):
        stores.imports.advance("t1", "vip", first, "i1")
    assert stores.imports.state("t1", "vip") == second and stores.imports.state("t2", "vip") is None


def test_unsettled_imports_are_noted_once_and_settled(stores):
    entries = [{"import_id": "i1", "changes": 3}, {"import_id": "i2", "changes": 4}]
    for entry in (*entries, entries[0]):
        stores.imports.add_unsettled("t1", "vip", entry)
    assert stores.imports.unsettled("t1", "vip") == entries
    stores.imports.settle("t1", "vip", entries[:1])
    assert stores.imports.unsettled("t1", "vip") == entries[1:]
    stores.imports.settle("t1", "vip", entries)
    assert stores.imports.unsettled("t1", "vip") == [] and stores.imports.unsettled("t2", "vip") == []


def test_a_lease_is_held_by_one_holder_until_released_or_expired(stores):
    assert stores.imports.acquire_lease("t1", "vip", "a", 60)
    assert not stores.imports.acquire_lease("t1", "vip", "b", 60)
    assert stores.imports.acquire_lease("t1", "vip", "a", 60)  # its holder renews it
    assert stores.imports.acquire_lease("t1", "other", "b", 60) and stores.imports.acquire_lease("t2", "vip", "b", 60)
    stores.imports.release_lease("t1", "vip", "b")  # not b's to free
    assert not stores.imports.acquire_lease("t1", "vip", "b", 60)
    stores.imports.release_lease("t1", "vip", "a")
    assert stores.imports.acquire_lease("t1", "vip", "b", -5)  # held, but already expired
    assert stores.imports.acquire_lease("t1", "vip", "c", 60)


def test_leases_are_counted_by_when_their_holder_first_took_them(stores):
    before = time.time() - 1
    assert stores.imports.acquire_lease("t1", "vip", "a", 60)
    taken = time.time() + 1
    assert stores.imports.leases_held("t1", taken_by=taken) == 1
    assert stores.imports.leases_held("t1", taken_by=before) == 0  # taken after: it screens by newer marks
    assert stores.imports.acquire_lease("t1", "vip", "a", 60)  # a renewal keeps when it was taken
    assert stores.imports.leases_held("t1", taken_by=taken) == 1 and stores.imports.leases_held("t2", taken) == 0
    assert stores.imports.acquire_lease("t1", "old", "b", -5)  # expired: not held
    assert stores.imports.leases_held("t1", taken_by=taken) == 1
    between = time.time()
    time.sleep(0.01)
    assert stores.imports.acquire_lease("t1", "old", "c", 60)  # taken over when expired: taken now, not then
    assert (
        stores.imports.leases_held("t1", taken_by=between) == 1 and stores.imports.leases_held("t1", time.time()) == 2
    )
