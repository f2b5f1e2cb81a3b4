"""Reading an audience's complete list, validating it whole, diffing it with the last applied list, and
planning the difference as chunks of changes for the apply function.

Nothing is applied unless the whole list is valid. The difference is taken against the audience's
snapshot, in partitions (audiences.compute), and only joiners and leavers are planned, as of the
list's time: written once as one object of chunks, the plan recorded once on the activity record,
a message queued per chunk. A redelivery after planning only queues the chunks not yet applied.
"""

from __future__ import annotations

import gzip
import json
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from audiences import screening
from audiences.domain import Audience, AudienceImportState, ImportRecord, ImportStatus, State, Tenant
from audiences.importer import records
from audiences.importer.applying import Plan, planned, queue_chunks
from audiences.importer.messages import applies_prefix, changes_prefix, snapshot_key
from audiences.member_files import IDENTIFIER, FileContext, FileRejected, MemberFile
from audiences.settings import get_settings
from audiences.wiring import stores

CHUNK_CHANGES = 5_000  # changes per apply chunk: a few seconds of one apply invocation's writes
PROGRESS_EVERY_ROWS = 100_000

Identity = tuple[str, str]  # (identifier field, external audience id): whom a list of values names


@dataclass(frozen=True)
class MemberList:
    """An audience's complete list, as one import reads it."""

    tenant: Tenant
    audience: Audience
    record: ImportRecord
    as_of: float  # the time the list is true as of: every change it makes takes it as its ts
    members: MemberFile
    previous: AudienceImportState | None  # the list last applied, if any

    @property
    def tenant_id(self) -> str:
        return self.tenant.tenant_id

    @property
    def identity(self) -> Identity:
        return (self.members.identifier, self.audience.external_id)


def file_context(tenant: Tenant, audience: Audience) -> FileContext:
    return FileContext(tenant, audience, time.time(), get_settings().max_future_skew_seconds)


def resume_or_import(record: ImportRecord, tenant_id: str, audience_key: str, read: Callable[[], ImportRecord]):
    """Under the audience's lease: queue a planned import's chunks again (a redelivery), or `read` its list."""

    def work() -> ImportRecord:
        if plan := planned(tenant_id, record.import_id):
            return queue_chunks(tenant_id, audience_key, record.import_id, plan, record.chunks_total)
        return read()

    return records.under_lease(tenant_id, audience_key, record, work)


def import_list(listing: MemberList) -> ImportRecord:
    """Read and validate every member, then plan the difference from the list last applied."""
    from audiences import compute  # the engine's layer is the imports function's alone

    tenant_id, record, members = listing.tenant_id, listing.record, listing.members
    with tempfile.TemporaryDirectory(prefix="import-") as scratch:
        directory = Path(scratch)
        current = compute.MemberSet(directory / "current")
        screened = _Screened(screening.screen(tenant_id), members, listing.as_of)
        try:
            current.add_all(screened.blocks(_reporting_progress(tenant_id, record.import_id, members)))
        except FileRejected as rejected:
            return records.end(tenant_id, record, ImportStatus.FAILED, message=str(rejected), rows=members.rows)
        if members.errors.count:
            return records.end(
                tenant_id,
                record,
                ImportStatus.FAILED,
                message=f"{members.errors.count} of {members.rows} rows are invalid; nothing was applied",
                rows=members.rows,
                errors=tuple(members.errors.first),
                error_count=members.errors.count,
            )
        before = compute.MemberSet(directory / "previous", distinct=True)
        renamed: list[tuple[Identity, Path]] = []  # lists of users named otherwise: all of them leave
        previous = listing.previous
        if previous is not None:
            snapshot = stores().objects.download_snapshot(previous.snapshot_key, directory)
            if (previous.identifier, previous.external_id) == listing.identity:
                before.add_all(screened.blocks(compute.read_snapshot(snapshot), counted=False))
            else:
                renamed.append(((previous.identifier, previous.external_id), snapshot))
        unsettled = stores().imports.unsettled(tenant_id, listing.audience.key)
        in_doubt = None  # users an import applied in part may have changed; most imports have none
        for entry in unsettled:
            for side in ("joined", "left"):
                path = stores().objects.download_snapshot(entry[side]["key"], directory / entry["import_id"] / side)
                named = tuple(entry[side]["identity"])
                if named == listing.identity:
                    in_doubt = in_doubt or compute.MemberSet(directory / "in-doubt")
                    in_doubt.add_all(compute.read_snapshot(path))
                else:
                    renamed.append((named, path))
        named = {IDENTIFIER: members.identifier}  # whose values the lists are: an erasure matches that field only
        difference = compute.difference(before, current, directory, in_doubt, metadata=named)
        leavers_renamed = compute.distinct(renamed, directory / "renamed")
        return _plan(listing, difference, leavers_renamed, unsettled, screened.dropped)


def _reporting_progress(tenant_id: str, import_id: str, members: MemberFile) -> Iterator:
    reported = 0
    for block in members.blocks():
        yield block
        if members.rows - reported >= PROGRESS_EVERY_ROWS:
            reported = members.rows
            stores().imports.update(tenant_id, import_id, rows_done=members.rows)


@dataclass
class _Screened:
    """A list's values without those of subjects under a privacy mark: taken from the new list and the last
    one alike, so the difference leaves their memberships as they are, and no snapshot holds them."""

    screen: screening.Screen
    members: MemberFile  # whose identifier field is known once its blocks have started
    as_of: float
    dropped: int = 0

    def blocks(self, blocks: Iterable, counted: bool = True) -> Iterator:
        if not self.screen.active:
            yield from blocks
            return
        for block in blocks:
            kept = self.screen.values(self.members.identifier, block.to_list(), self.as_of)
            if len(kept) < len(block):
                self.dropped += (len(block) - len(kept)) if counted else 0
                block = block.filter(block.is_in(kept))
            yield block


def _plan(
    listing: MemberList, difference, leavers_renamed: list, unsettled: list[dict], suppressed: int
) -> ImportRecord:
    """Write the changes once, as one object of chunks, record the plan, queue a message per chunk; the
    apply function applies them, and the last one applied finishes the import. The lease stays held.
    Only the object's parts and the messages grow with the changes, each sent several at a time."""
    from audiences import compute

    tenant_id, audience_key, record = listing.tenant_id, listing.audience.key, listing.record
    applies = applies_prefix(tenant_id, audience_key, record.import_id)
    change_lists = [
        *((named, compute.values_of(path, CHUNK_CHANGES), State.DISQUALIFIED) for named, path, _ in leavers_renamed),
        (listing.identity, compute.values_of(difference.left, CHUNK_CHANGES), State.DISQUALIFIED),
        (listing.identity, compute.values_of(difference.joined, CHUNK_CHANGES), State.QUALIFIED),
    ]
    changes_path = difference.snapshot.with_name("changes.bin")
    ranges, total = _write_chunks(changes_path, change_lists, listing.as_of)
    changes = changes_prefix(tenant_id, audience_key, record.import_id)
    changes_key, index_key = f"{changes}/changes.bin", f"{changes}/index.json"
    stores().objects.put_snapshot(changes_key, changes_path)
    stores().objects.put_data(index_key, json.dumps(ranges).encode())
    for side in ("joined", "left"):  # what a failure would leave in doubt
        stores().objects.put_snapshot(f"{applies}/{side}.parquet", getattr(difference, side))
    next_snapshot = snapshot_key(tenant_id, audience_key, record.import_id)
    stores().objects.put_snapshot(next_snapshot, difference.snapshot)
    previous = listing.previous
    plan = Plan(
        AudienceImportState(record.import_id, listing.as_of, next_snapshot, *listing.identity),
        previous.import_id if previous else None,
        previous.snapshot_key if previous else None,
        unsettled,
        {side: {"key": f"{applies}/{side}.parquet", "identity": listing.identity} for side in ("joined", "left")},
        changes_key,
        index_key,
    )
    counts = difference.counts
    planned_counts = {
        "rows": listing.members.rows,
        "qualified": counts.joined,
        "disqualified": counts.left + sum(size for _, _, size in leavers_renamed),
        "unchanged": counts.unchanged,
        "suppressed": suppressed,
        "rows_done": listing.members.rows,
    }
    stored = stores().imports.plan(tenant_id, record.import_id, len(ranges), total, plan.to_json(), **planned_counts)
    stores().imports.acquire_lease(tenant_id, audience_key, record.import_id, records.APPLY_LEASE_SECONDS)
    return queue_chunks(tenant_id, audience_key, record.import_id, Plan.from_json(stored), len(ranges))


def _write_chunks(
    path: Path, change_lists: Iterable[tuple[Identity, Iterator[list[str]], State]], as_of: float
) -> tuple[list[tuple[int, int]], int]:
    """Every chunk of changes (a gzip member each: one kind, CHUNK_CHANGES values at most) back to back
    in one file; their byte ranges, and how many changes they hold."""
    ranges, total = [], 0
    with path.open("wb") as out:
        for (identifier, external_id), blocks, state in change_lists:
            for values in blocks:
                body = {"at": as_of, "identifier": identifier, "audience": external_id, "state": state.value}
                start = out.tell()
                out.write(gzip.compress(json.dumps({**body, "values": values}).encode(), 1))
                ranges.append((start, out.tell()))
                total += len(values)
    return ranges, total
