"""Applying an audience's complete member list: validate it whole, diff it with the last import, apply the difference.

The list comes as an upload (`<tenant>/audience-diffs/<segment_id>.csv.gz` in the imports bucket,
ODP's: its notification starts the import) or as a run (the source files uploaded within a
window under `<tenant>/sources/`, read together: Adobe's, started through its API and queued
here). Every step may run again after a crash or a redelivery and still reach the same end:

1. The activity record is keyed by the upload (time, key, eTag): a second delivery finds it.
2. A lease serializes imports of one audience, from reading the file to the last change applied.
3. An upload older than the audience's last applied one, or whose object was replaced since,
   is SKIPPED: the newer upload decides. A newer upload that arrives while an older one is
   applying waits for the lease (the queue brings it back a minute later, and later again).
4. The whole file is read and validated before any membership changes; one bad row fails it.
5. Its members are diffed with the previous import's snapshot (in DataBucket), and only joiners
   and leavers are planned, with the upload's time as their ts: written as chunk objects, the
   plan recorded once on the activity record, a message per chunk queued for the apply function.
6. Each chunk is applied through the one write path and counted once; the last one advances the
   audience's state to the new snapshot and says SUCCESS. A redelivered import re-queues the
   chunks not yet applied; a chunk applied twice changes nothing the second time.
7. A chunk that cannot be applied fails the import; the users its changes name are then in doubt,
   and the next import sets each of them as its file says, whatever the diff alone would do.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import chain, islice
from pathlib import Path
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger

from audiences import catalog, memberships
from audiences.domain import (
    AUDIENCE_KEY,
    TENANT_ID,
    AudienceImportState,
    ImportRecord,
    ImportStatus,
    MembershipChange,
    State,
    Tenant,
    UserRef,
)
from audiences.errors import Conflict, InvalidInput, NotFound, Unprocessable
from audiences.member_files import FileContext, FileReader, FileRejected, MemberFile, MemberFiles
from audiences.settings import get_settings
from audiences.stores import catalog as catalog_store
from audiences.stores import imports as import_store
from audiences.stores import objects, queue
from audiences.stores import tenants as tenant_store

logger = Logger(child=True)

FOLDER = "audience-diffs"
SOURCES = "sources"  # files runs read, laid out by each dialect: <tenant>/sources/<dialect's path>
SUFFIX = ".csv.gz"
APPLY_BATCH = 500  # members a re-confirmation writes at once
CHUNK_CHANGES = 5_000  # changes per apply chunk: a few seconds of one apply invocation's writes
PROGRESS_EVERY_ROWS = 100_000
# Stop applying while this much time is left, to record the outcome before Lambda stops us.
RESERVE_SECONDS = 60
LEASE_SECONDS = 16 * 60  # the function's timeout and a margin: a crashed holder's lease expires
# While chunks apply, each renews the lease for this long: far longer than one chunk's every retry
# takes, so only an apply that stopped progressing lets the next import of the audience in.
APPLY_LEASE_SECONDS = 60 * 60
UPLOAD_URL_SECONDS = 15 * 60  # long enough for a large upload, short enough to be worthless if leaked
MULTIPART_URL_SECONDS = 6 * 60 * 60  # parts of a file of many GB upload for hours
MAX_RUN_ERRORS = 100  # row errors a run keeps, over all its files (and the count of all)
RUN_PREFIX = "run-"
RECONFIRM_PREFIX = "reconfirm-"


class AudienceBusy(Exception):
    """Another import of the same audience is running; try again later."""


@dataclass(frozen=True)
class Upload:
    bucket: str
    key: str
    etag: str
    size: int
    uploaded_at: float  # S3's event time, epoch seconds

    @property
    def import_id(self) -> str:
        """Sorts by upload time; the same upload always gets the same id."""
        moment = datetime.fromtimestamp(self.uploaded_at, UTC)
        digest = hashlib.sha256(f"{self.bucket}\n{self.key}\n{self.etag}\n{self.uploaded_at!r}".encode()).hexdigest()
        return f"{moment:%Y%m%dT%H%M%S}{moment.microsecond // 1000:03d}Z-{digest[:12]}"


def upload_key(tenant_id: str, segment_id: str) -> str:
    return f"{tenant_id}/{FOLDER}/{segment_id}{SUFFIX}"


@dataclass(frozen=True)
class UploadTarget:
    url: str  # a presigned PUT: the uploader needs no AWS credentials
    key: str
    expires_at: datetime


def upload_target(tenant_id: str, segment_id: str) -> UploadTarget:
    """Where to PUT the audience's next file; NotFound if there is no such audience."""
    catalog.get_audience(tenant_id, segment_id)  # no URL for a file that could only fail
    key = upload_key(tenant_id, segment_id)
    expires_at = datetime.now(UTC) + timedelta(seconds=UPLOAD_URL_SECONDS)
    return UploadTarget(objects.upload_url(key, UPLOAD_URL_SECONDS), key, expires_at)


MAX_PARTS = 10_000  # S3's most parts of a multipart upload (each 5 MiB to 5 GiB, the last smaller)


@dataclass(frozen=True)
class MultipartTarget:
    key: str
    upload_id: str
    part_urls: list[str]  # part n (from 1) is PUT to part_urls[n - 1]
    expires_at: datetime


def multipart_upload_target(tenant_id: str, segment_id: str, parts: int) -> MultipartTarget:
    """A multipart upload of the audience's next file, one presigned URL per part; NotFound if there
    is no such audience. The import starts when the upload is completed (`complete_multipart_upload`)."""
    catalog.get_audience(tenant_id, segment_id)
    key = upload_key(tenant_id, segment_id)
    upload_id = objects.create_multipart(key)
    urls = [objects.part_url(key, upload_id, n, MULTIPART_URL_SECONDS) for n in range(1, parts + 1)]
    return MultipartTarget(key, upload_id, urls, datetime.now(UTC) + timedelta(seconds=MULTIPART_URL_SECONDS))


def complete_multipart_upload(tenant_id: str, segment_id: str, upload_id: str, parts: list[tuple[int, str]]) -> str:
    """Assemble a multipart upload's parts (number, ETag as S3 answered each PUT); the object's ETag.
    NotFound if there is no such upload of that audience; InvalidInput naming what S3 refused."""
    catalog.get_audience(tenant_id, segment_id)
    try:
        return objects.complete_multipart(upload_key(tenant_id, segment_id), upload_id, parts)
    except objects.NoSuchUpload as missing:
        raise NotFound(
            f"there is no multipart upload {upload_id!r} of audience {segment_id!r}: it was completed or aborted "
            "already, or belongs to another audience; ask for a new upload URL"
        ) from missing
    except objects.PartsRejected as refused:
        raise InvalidInput(
            f"S3 refused the parts ({refused}): list every part you uploaded, in order, each with the ETag "
            "its PUT answered; every part but the last must be at least 5 MiB"
        ) from refused


def source_key(tenant_id: str, path: str) -> str:
    """Where a run's source file at `path` (the dialect's layout, under the tenant's area) lives."""
    return f"{tenant_id}/{SOURCES}/{path}"


def source_upload_target(tenant_id: str, path: str) -> UploadTarget:
    """A presigned PUT of one source file; uploading it starts nothing (a run reads it later)."""
    key = source_key(tenant_id, path)
    expires_at = datetime.now(UTC) + timedelta(seconds=UPLOAD_URL_SECONDS)
    return UploadTarget(objects.upload_url(key, UPLOAD_URL_SECONDS), key, expires_at)


def activity(
    tenant_id: str, audience: str | None, status: ImportStatus | None, cursor: str | None, limit: int
) -> tuple[list[ImportRecord], str | None]:
    """The tenant's imports, newest first, and the cursor of the next page (None at the end)."""
    return import_store.page(tenant_id, audience, status, cursor, limit)


def activity_record(tenant_id: str, import_id: str) -> ImportRecord:
    record = import_store.get(tenant_id, import_id)
    if record is None:
        raise NotFound(f"import {import_id!r} does not exist")
    return record


def _snapshot_key(tenant_id: str, segment_id: str, import_id: str) -> str:
    return f"imports/tenant={tenant_id}/snapshots/{segment_id}/{import_id}.parquet"


def _open(upload: Upload) -> tuple[Tenant, str, ImportRecord] | None:
    """The upload's tenant, segment id and activity record (created on first sight); None if not an import."""
    parts = upload.key.split("/")
    if len(parts) < 2 or parts[1] != FOLDER:
        logger.info("object outside audience-diffs ignored", extra={"bucket": upload.bucket})
        return None
    tenant_id = parts[0]
    tenant = tenant_store.get_tenant(tenant_id) if TENANT_ID.fullmatch(tenant_id) else None
    if tenant is None:
        logger.warning("upload for an unknown tenant ignored")
        return None
    segment_id = "/".join(parts[2:]).removesuffix(SUFFIX)
    record = import_store.begin(
        tenant_id,
        ImportRecord(
            import_id=upload.import_id, audience=segment_id, s3_key=upload.key, uploaded_at=upload.uploaded_at
        ),
    )
    logger.append_keys(tenant=tenant_id, import_id=record.import_id)
    return tenant, segment_id, record


def process(upload: Upload, read_file: FileReader) -> ImportRecord | None:
    """Apply one upload, read by the dialect's `read_file`; None if it is not an audience file of a tenant."""
    opened = _open(upload)
    if opened is None:
        return None
    tenant, segment_id, record = opened
    if record.status is not ImportStatus.PROCESSING:
        return record  # a second delivery of a finished upload
    problem = _name_problem(upload.key.split("/"), segment_id)
    if problem:
        return _end(tenant.tenant_id, record, ImportStatus.FAILED, message=problem)
    return _leased(tenant.tenant_id, segment_id, record, partial(_run, tenant, segment_id, upload, record, read_file))


def _leased(tenant_id: str, segment_id: str, record: ImportRecord, run: Callable[[], ImportRecord]) -> ImportRecord:
    """Run an import under the audience's lease. The lease passes to the apply once the changes are
    planned: it is freed here only if the import ended, or failed before planning."""
    if not import_store.acquire_lease(tenant_id, segment_id, record.import_id, LEASE_SECONDS):
        raise AudienceBusy(segment_id)
    try:
        if plan := import_store.planned(tenant_id, record.import_id):  # a redelivery after planning
            outcome = _send_chunks(tenant_id, segment_id, record.import_id, Plan.from_json(plan), record.chunks_total)
        else:
            outcome = run()
    except BaseException:
        if not import_store.planned(tenant_id, record.import_id):
            import_store.release_lease(tenant_id, segment_id, record.import_id)
        raise
    if outcome.status is not ImportStatus.PROCESSING:
        import_store.release_lease(tenant_id, segment_id, record.import_id)
    return outcome


def note_failed_attempt(work: Upload | Run | Reconfirm | Chunk, attempt: int, reason: str) -> None:
    """Say on the activity record that delivery `attempt` failed and the queue will retry it."""
    tenant_id = work.key.split("/", 1)[0] if isinstance(work, Upload) else work.tenant_id
    if isinstance(work, Chunk):
        reason = f"chunk {work.number}: {reason}"
    if not TENANT_ID.fullmatch(tenant_id):
        return
    attempts = get_settings().import_attempts
    message = f"attempt {attempt} of {attempts} failed ({reason})" + ("; it is retried" if attempt < attempts else "")
    import_store.update(tenant_id, work.import_id, attempts=attempt, last_failure=reason, message=message)


def give_up(work: Upload | Run | Reconfirm) -> ImportRecord | None:
    """End an import whose every delivery failed: FAILED, saying why, so no import stays PROCESSING."""
    if isinstance(work, Run | Reconfirm):
        tenant_id, segment_id = work.tenant_id, work.audience_key
        again = "start a new run" if isinstance(work, Run) else "ask for extend-ttl again"
        record = import_store.begin(tenant_id, work.record())
        logger.append_keys(tenant=tenant_id, import_id=record.import_id)
    else:
        opened = _open(work)
        if opened is None:
            return None
        (tenant, segment_id, record), again = opened, "upload the file again"
        tenant_id = tenant.tenant_id
    if record.status is not ImportStatus.PROCESSING:
        return record  # it did finish, on the last attempt or through another delivery
    last = record.last_failure or "none reported: the function timed out or ran out of memory"
    reason = f"given up after {get_settings().import_attempts} attempts (last failure: {last})"
    logger.warning("import given up", extra={"attempts": record.attempts})
    if plan := import_store.planned(tenant_id, record.import_id):  # chunks may have been applied
        return _fail_apply(tenant_id, segment_id, record, Plan.from_json(plan), reason)
    if isinstance(work, Run | Reconfirm):  # the next run may start
        import_store.release_lease(tenant_id, segment_id, record.import_id)
    return _end(
        tenant_id, record, ImportStatus.FAILED, message=f"{reason}; nothing more will be applied: {again} to retry"
    )


def _name_problem(parts: list[str], segment_id: str) -> str | None:
    expected = f"name the file <tenant>/{FOLDER}/<segment id>{SUFFIX}"
    if len(parts) != 3 or not parts[2]:
        return f"the key has no file name directly under {FOLDER}/: {expected}"
    if not parts[2].endswith(SUFFIX):
        return f"the file name does not end in {SUFFIX}: {expected}"
    if not AUDIENCE_KEY.fullmatch(segment_id):
        return f"{segment_id!r} is not a segment id (a-z, 0-9, _): {expected}"
    return None


def _end(tenant_id: str, record: ImportRecord, status: ImportStatus, **details) -> ImportRecord:
    if status is ImportStatus.SUCCESS:  # the activity log is the audience's size history
        audience = catalog_store.get_audience(tenant_id, record.audience)
        details["size_after"] = memberships.audience_size(tenant_id, audience.external_id) if audience else None
    finished = import_store.finish(tenant_id, record.import_id, status, **details)
    logger.info("import finished", extra={"status": status.value, "reason": details.get("message", "")})
    # None: another delivery finished it first, and its outcome stands
    return finished or import_store.get(tenant_id, record.import_id)


def _run(tenant: Tenant, segment_id: str, upload: Upload, record: ImportRecord, read_file: FileReader) -> ImportRecord:
    tenant_id = tenant.tenant_id
    audience = catalog_store.get_audience(tenant_id, segment_id)
    if audience is None:
        message = f"there is no audience {segment_id!r}: create it, then upload the file again"
        return _end(tenant_id, record, ImportStatus.FAILED, message=message)
    previous = import_store.state(tenant_id, segment_id)
    if previous is not None and previous.import_id == record.import_id:
        return _end(tenant_id, record, ImportStatus.SUCCESS)  # applied before a crash; only the record was left
    if previous is not None and previous.uploaded_at >= upload.uploaded_at:
        message = f"superseded: the newer upload of import {previous.import_id} is already applied"
        return _end(tenant_id, record, ImportStatus.SKIPPED, message=message)
    try:
        body = objects.open_upload(upload.bucket, upload.key, upload.etag)
    except objects.UploadReplaced:
        message = "superseded: the file was replaced (or deleted) before it was processed; a newer upload decides"
        return _end(tenant_id, record, ImportStatus.SKIPPED, message=message)

    audience_file = read_file(body, upload.size, _context(tenant, audience))
    return _import(tenant_id, audience, record, upload.uploaded_at, audience_file, previous)


def _context(tenant: Tenant, audience) -> FileContext:
    return FileContext(tenant, audience, time.time(), get_settings().max_future_skew_seconds)


def _import(tenant_id, audience, record, effective_at, members: MemberFile, previous) -> ImportRecord:
    """Read and validate every member, then plan the difference from `previous` as of `effective_at`."""
    from audiences import compute  # the engine's layer is the imports function's alone

    with tempfile.TemporaryDirectory(prefix="import-") as scratch:
        directory = Path(scratch)
        current = compute.MemberSet(directory / "current")
        try:
            current.add_all(_reporting(tenant_id, record.import_id, members))
        except FileRejected as rejected:
            return _end(tenant_id, record, ImportStatus.FAILED, message=str(rejected), rows=members.rows)
        if members.errors.count:
            message = f"{members.errors.count} of {members.rows} rows are invalid; nothing was applied"
            return _end(
                tenant_id,
                record,
                ImportStatus.FAILED,
                message=message,
                rows=members.rows,
                errors=tuple(members.errors.first),
                error_count=members.errors.count,
            )
        identity = (members.identifier, audience.external_id)
        before = compute.MemberSet(directory / "previous", distinct=True)
        others: list[tuple[tuple[str, str], Path]] = []  # lists of users named otherwise: all of them left
        if previous is not None:
            snapshot = objects.download_snapshot(previous.snapshot_key, directory)
            if (previous.identifier, previous.external_id) == identity:
                before.add_all(compute.read_snapshot(snapshot))
            else:
                others.append(((previous.identifier, previous.external_id), snapshot))
        unsettled = import_store.unsettled(tenant_id, audience.key)
        in_doubt = None  # users an import applied in part may have changed; most imports have none
        for entry in unsettled:
            for side in ("joined", "left"):
                path = objects.download_snapshot(entry[side]["key"], directory / entry["import_id"] / side)
                named = tuple(entry[side]["identity"])
                if named == identity:
                    in_doubt = in_doubt or compute.MemberSet(directory / "in-doubt")
                    in_doubt.add_all(compute.read_snapshot(path))
                else:
                    others.append((named, path))
        difference = compute.difference(before, current, directory, in_doubt)
        others_distinct = compute.distinct(others, directory / "others")
        return _plan_apply(
            tenant_id, audience, effective_at, record, members, difference, others_distinct, previous, unsettled
        )


def _reporting(tenant_id: str, import_id: str, members: MemberFile) -> Iterator:
    reported = 0
    for block in members.blocks():
        yield block
        if members.rows - reported >= PROGRESS_EVERY_ROWS:
            reported = members.rows
            import_store.update(tenant_id, import_id, rows_done=members.rows)


@dataclass(frozen=True)
class Chunk:
    """Apply chunk `number` of an import's planned changes (a message on the apply queue): the bytes
    [start, end) of the import's changes object, one gzip member of a document of changes of one kind."""

    tenant_id: str
    audience_key: str
    import_id: str
    number: int
    key: str = ""  # the changes object; empty in messages of earlier releases: one object per chunk
    start: int = 0
    end: int = 0

    @property
    def location(self) -> str:
        return self.key or f"{_applies(self.tenant_id, self.audience_key, self.import_id)}/{self.number:06d}.json.gz"


def _applies(tenant_id: str, segment_id: str, import_id: str) -> str:
    return f"imports/tenant={tenant_id}/applies/{segment_id}/{import_id}"


def chunks(message: str) -> list[Chunk]:
    document = json.loads(message)
    return [Chunk(**document["chunk"])] if "chunk" in document else []


def _plan_apply(tenant_id, audience, effective_at, record, members, difference, others, previous, unsettled):
    """Write the changes once, as one object of chunks, record the plan, queue a message per chunk; the
    apply function applies them, and the last one applied finishes the import (`_finish`). The lease
    stays held. Only the object's parts and the messages grow with the changes, each sent several at
    a time."""
    from audiences import compute

    segment_id, identity = audience.key, (members.identifier, audience.external_id)
    applies = _applies(tenant_id, segment_id, record.import_id)
    kinds = [
        *((named, compute.values_of(path, CHUNK_CHANGES), State.DISQUALIFIED) for named, path, _ in others),
        (identity, compute.values_of(difference.left, CHUNK_CHANGES), State.DISQUALIFIED),
        (identity, compute.values_of(difference.joined, CHUNK_CHANGES), State.QUALIFIED),
    ]
    changes_path = difference.snapshot.with_name("changes.bin")
    ranges, total = _write_chunks(changes_path, kinds, effective_at)
    changes_key, index_key = f"{applies}/changes.bin", f"{applies}/index.json"
    objects.put_snapshot(changes_key, changes_path)
    objects.put_data(index_key, json.dumps(ranges).encode())
    for side in ("joined", "left"):  # what a failure would leave in doubt
        objects.put_snapshot(f"{applies}/{side}.parquet", getattr(difference, side))
    snapshot_key = _snapshot_key(tenant_id, segment_id, record.import_id)
    objects.put_snapshot(snapshot_key, difference.snapshot)
    changed = {side: {"key": f"{applies}/{side}.parquet", "identity": identity} for side in ("joined", "left")}
    plan = Plan(
        AudienceImportState(record.import_id, effective_at, snapshot_key, *identity),
        previous.import_id if previous else None,
        previous.snapshot_key if previous else None,
        unsettled,
        changed,
        changes_key,
        index_key,
    )
    counts = difference.counts
    planned_counts = {
        "rows": members.rows,
        "qualified": counts.joined,
        "disqualified": counts.left + sum(size for _, _, size in others),
        "unchanged": counts.unchanged,
        "rows_done": members.rows,
    }
    stored = import_store.plan(tenant_id, record.import_id, len(ranges), total, plan.to_json(), **planned_counts)
    import_store.acquire_lease(tenant_id, segment_id, record.import_id, APPLY_LEASE_SECONDS)
    return _send_chunks(tenant_id, segment_id, record.import_id, Plan.from_json(stored), len(ranges))


def _write_chunks(path: Path, kinds, effective_at: float) -> tuple[list[tuple[int, int]], int]:
    """Every chunk of changes (a gzip member each: one kind, CHUNK_CHANGES values at most) back to back
    in one file; their byte ranges, and how many changes they hold."""
    ranges, total = [], 0
    with path.open("wb") as out:
        for (identifier, external_id), blocks, state in kinds:
            for values in blocks:
                body = {"at": effective_at, "identifier": identifier, "audience": external_id, "state": state.value}
                start = out.tell()
                out.write(gzip.compress(json.dumps({**body, "values": values}).encode(), 1))
                ranges.append((start, out.tell()))
                total += len(values)
    return ranges, total


def _send_chunks(tenant_id: str, segment_id: str, import_id: str, plan: Plan, chunks_total: int) -> ImportRecord:
    """Queue every chunk not yet applied (again, after a crash: a duplicate is harmless); finish if none."""
    done = import_store.chunks_done(tenant_id, import_id)
    pending = [n for n in range(chunks_total) if n not in done]
    if not pending:
        return _finish(tenant_id, segment_id, import_id, plan)
    ranges = json.loads(objects.get_data(plan.index_key)) if plan.index_key else None
    messages = []
    for n in pending:
        where = {"key": plan.changes_key, "start": ranges[n][0], "end": ranges[n][1]} if ranges else {}
        messages.append(json.dumps({"chunk": asdict(Chunk(tenant_id, segment_id, import_id, n, **where))}))
    queue.send_to_apply(messages)
    logger.info("apply fanned out", extra={"chunks": len(pending)})
    return import_store.get(tenant_id, import_id)


@dataclass(frozen=True)
class Plan:
    """What finishing an import's apply does: the state it advances to, from which, and what it settles."""

    state: AudienceImportState
    previous_import_id: str | None
    previous_snapshot_key: str | None
    settles: list[dict]  # the unsettled imports this one sets right
    changed: dict  # this import's joined and left lists: what a failure leaves in doubt
    changes_key: str = ""  # the chunks, back to back (plans of earlier releases: an object per chunk)
    index_key: str = ""  # each chunk's byte range in it

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Plan:
        document = json.loads(text)
        return cls(**{**document, "state": AudienceImportState(**document["state"])})


def apply_chunk(chunk: Chunk) -> ImportRecord | None:
    """Apply one chunk through the one write path, count it once, and finish the import after the last.

    Every step may run again: a change applied twice is stale the second time, a chunk is counted
    once (its number joins a set), and finishing is idempotent."""
    tenant_id, segment_id, import_id = chunk.tenant_id, chunk.audience_key, chunk.import_id
    logger.append_keys(tenant=tenant_id, import_id=import_id)
    record = import_store.get(tenant_id, import_id)
    if record is None or record.status is not ImportStatus.PROCESSING:
        return record  # finished (or failed) already: nothing more to apply
    plan = Plan.from_json(import_store.planned(tenant_id, import_id))
    if not import_store.acquire_lease(tenant_id, segment_id, import_id, APPLY_LEASE_SECONDS):
        return _fail_apply(tenant_id, segment_id, record, plan,
                           "no chunk was applied for over an hour and another import took the audience")  # fmt: skip
    if chunk.number not in import_store.chunks_done(tenant_id, import_id):
        data = objects.get_range(chunk.key, chunk.start, chunk.end) if chunk.key else objects.get_data(chunk.location)
        document = json.loads(gzip.decompress(data))
        state = State(document["state"])
        changes = [
            MembershipChange(UserRef(document["identifier"], value), document["audience"], state, document["at"])
            for value in document["values"]
        ]
        memberships.apply(tenant_id, changes)
        record = import_store.chunk_applied(tenant_id, import_id, chunk.number, len(changes))
        if record is None:
            return import_store.get(tenant_id, import_id)
        if not chunk.key:
            objects.delete_data(chunk.location)
    else:
        record = import_store.get(tenant_id, import_id)
    if record.chunks_done == record.chunks_total:
        return _finish(tenant_id, segment_id, import_id, plan)
    return record


def _finish(tenant_id: str, segment_id: str, import_id: str, plan: Plan) -> ImportRecord:
    """Advance the audience to the new snapshot, settle what it set right, end SUCCESS, free the audience."""
    try:
        import_store.advance(tenant_id, segment_id, plan.state, plan.previous_import_id)
    except import_store.StateMoved:
        state = import_store.state(tenant_id, segment_id)
        if state is None or state.import_id != import_id:
            raise  # not a redelivery of this step: nothing else advances the state under the lease
    if plan.settles:
        import_store.settle(tenant_id, segment_id, plan.settles)
    for entry in plan.settles:  # what they left in doubt is set right now
        for key in [entry["joined"]["key"], entry["left"]["key"], *entry.get("changes", [])]:
            objects.delete_data(key)
    if plan.previous_snapshot_key:
        objects.delete_data(plan.previous_snapshot_key)
    for side in ("joined", "left"):
        objects.delete_data(plan.changed[side]["key"])
    for key in (plan.changes_key, plan.index_key):
        if key:
            objects.delete_data(key)
    finished = _end(tenant_id, import_store.get(tenant_id, import_id), ImportStatus.SUCCESS)
    import_store.release_lease(tenant_id, segment_id, import_id)
    return finished


def _fail_apply(tenant_id: str, segment_id: str, record: ImportRecord, plan: Plan, reason: str) -> ImportRecord:
    """End an apply that cannot go on: FAILED, its users left in doubt for the next import to set right."""
    # The changes it did not apply are of no use (the next import sets its users right): that import deletes them.
    leftovers = [key for key in (plan.changes_key, plan.index_key) if key]
    entry = {"import_id": record.import_id, **plan.changed, "changes": leftovers}
    import_store.add_unsettled(tenant_id, segment_id, entry)
    message = (
        f"{reason}; {record.changes_applied} of {record.changes_total} changes were applied: the next import of "
        "the audience sets every user this one changed as its own list says"
    )
    finished = _end(tenant_id, record, ImportStatus.FAILED, message=message)
    import_store.release_lease(tenant_id, segment_id, record.import_id)
    return finished


def give_up_chunk(chunk: Chunk) -> ImportRecord | None:
    """A chunk every delivery failed to apply (the apply queue's dead letter): the import FAILED, saying why."""
    record = import_store.get(chunk.tenant_id, chunk.import_id)
    if record is None or record.status is not ImportStatus.PROCESSING:
        return record
    plan = Plan.from_json(import_store.planned(chunk.tenant_id, chunk.import_id))
    last = record.last_failure or "none reported: the function timed out or ran out of memory"
    reason = (
        f"chunk {chunk.number} could not be applied in {get_settings().import_attempts} attempts (last failure: {last})"
    )
    return _fail_apply(chunk.tenant_id, chunk.audience_key, record, plan, reason)


@dataclass(frozen=True)
class Run:
    """Read every source file uploaded within [window_start, window_end] as the audience's complete list."""

    tenant_id: str
    audience_key: str
    audience_id: str
    run_id: str  # starts with its creation time, so an audience's runs sort by it
    source: str  # the file, or folder, under the tenant's sources area
    folder: bool
    window_start: float
    window_end: float
    created_at: float  # the members are true as of then
    created_by: str

    @property
    def import_id(self) -> str:
        return run_import_id(self.audience_id, self.run_id)

    def record(self) -> ImportRecord:
        return ImportRecord(
            import_id=self.import_id,
            audience=self.audience_key,
            s3_key=source_key(self.tenant_id, self.source),
            uploaded_at=self.created_at,
            window_start=self.window_start,
            window_end=self.window_end,
            created_by=self.created_by,
        )


def run_import_id(audience_id: str, run_id: str) -> str:
    return f"{RUN_PREFIX}{audience_id}-{run_id}"


def run_time_key(moment: float) -> str:
    """The start of every run id created within that second: run ids sort by creation."""
    return f"{datetime.fromtimestamp(moment, UTC):%Y%m%dT%H%M%S}"


def new_run_id(now: float) -> str:
    return f"{run_time_key(now)}{int(now * 1000) % 1000:03d}Z-{secrets.token_hex(4)}"


def run_in_progress(audience_key: str) -> Conflict:
    return Conflict(f"a run of audience {audience_key!r} is in progress: wait for it to end", "run", "in_progress")


def start_run(run: Run, admitted: Callable[[], AbstractContextManager]) -> ImportRecord:
    """Queue a run, one at a time per audience (Conflict if another holds it).

    `admitted` is the dialect's last word (its guardrails): entering it may refuse the run, and
    if queueing fails inside it, it takes the admission back; either way nothing was started. The
    message is sent before the record is written, so a crash in between still ends the run:
    the importer writes the same record when the message arrives.
    """
    if not import_store.acquire_lease(run.tenant_id, run.audience_key, run.import_id, LEASE_SECONDS):
        raise run_in_progress(run.audience_key)
    try:
        with admitted():
            queue.send_to_imports(json.dumps({"run": asdict(run)}))
    except BaseException:
        import_store.release_lease(run.tenant_id, run.audience_key, run.import_id)
        raise
    return import_store.begin(run.tenant_id, run.record())


def runs_of(
    tenant_id: str,
    audience_id: str,
    *,
    newest_first: bool,
    skip: int,
    limit: int,
    status: ImportStatus | None = None,
    created_from: float | None = None,
    created_to: float | None = None,
) -> tuple[list[ImportRecord], int]:
    """A page of an audience's runs in creation order, and how many match: one Query and one count."""
    return import_store.with_prefix(
        tenant_id,
        run_import_id(audience_id, ""),
        newest_first=newest_first,
        skip=skip,
        limit=limit,
        status=status,
        after=run_time_key(created_from) if created_from is not None else None,
        before=run_time_key(created_to) if created_to is not None else None,
    )


def run_id_of(record: ImportRecord, audience_id: str) -> str:
    return record.import_id.removeprefix(run_import_id(audience_id, ""))


def first_run_id(tenant_id: str, audience_id: str) -> str | None:
    """The audience's first run: the only one that is not differential."""
    first = import_store.first_with_prefix(tenant_id, run_import_id(audience_id, ""))
    return run_id_of(first, audience_id) if first else None


def run_record(tenant_id: str, audience_id: str, run_id: str) -> ImportRecord:
    record = import_store.get(tenant_id, run_import_id(audience_id, run_id))
    if record is None:
        raise NotFound(f"run {run_id!r} does not exist", "run", "not_found", {"id": run_id})
    return record


def process_run(run: Run, read_file: FileReader) -> ImportRecord | None:
    """Apply one run, each of its files read by the dialect's `read_file`."""
    tenant = tenant_store.get_tenant(run.tenant_id)
    if tenant is None:
        logger.warning("run for an unknown tenant ignored")
        return None
    record = import_store.begin(run.tenant_id, run.record())
    logger.append_keys(tenant=run.tenant_id, import_id=record.import_id)
    if record.status is not ImportStatus.PROCESSING:
        return record  # a second delivery of a finished run
    return _leased(run.tenant_id, run.audience_key, record, partial(_run_sources, tenant, run, record, read_file))


def _run_sources(tenant: Tenant, run: Run, record: ImportRecord, read_file: FileReader) -> ImportRecord:
    tenant_id = tenant.tenant_id
    audience = catalog_store.get_audience(tenant_id, run.audience_key)
    if audience is None or audience.audience_id != run.audience_id:
        return _end(tenant_id, record, ImportStatus.FAILED, message="the audience was deleted before the run")
    previous = import_store.state(tenant_id, run.audience_key)
    if previous is not None and previous.import_id == record.import_id:
        return _end(tenant_id, record, ImportStatus.SUCCESS)  # applied before a crash; only the record was left
    if previous is not None and previous.uploaded_at >= run.created_at:
        message = f"superseded: the newer import {previous.import_id} is already applied"
        return _end(tenant_id, record, ImportStatus.SKIPPED, message=message)
    root = source_key(tenant_id, run.source)
    found = [
        source
        for source in objects.source_objects(root, run.folder)
        if run.window_start <= int(source.uploaded_at) <= run.window_end  # S3 keeps whole seconds
    ]
    if not found:
        window = " and ".join(datetime.fromtimestamp(t, UTC).isoformat() for t in (run.window_start, run.window_end))
        message = (
            f"no file was uploaded to {run.source} between {window}: upload the files, then start a run "
            "whose window holds their upload times"
        )
        return _end(tenant_id, record, ImportStatus.FAILED, message=message)
    context = _context(tenant, audience)
    members = MemberFiles(
        [
            (_source_name(source.key, root, run.folder), partial(_open_source, source, read_file, context))
            for source in found
        ],
        limit=MAX_RUN_ERRORS,
    )
    return _import(tenant_id, audience, record, run.created_at, members, previous)


def _source_name(key: str, root: str, folder: bool) -> str:
    """A file as its run's errors name it: its path in the folder, or its own name."""
    return key.removeprefix(root.rstrip("/") + "/") if folder else key.rsplit("/", 1)[-1]


def _open_source(source: objects.SourceObject, read_file: FileReader, context: FileContext) -> MemberFile:
    try:
        body = objects.open_upload(get_settings().imports_bucket, source.key, source.etag)
    except objects.UploadReplaced as replaced:
        raise FileRejected("was replaced or deleted while the run read it: start a new run") from replaced
    return read_file(body, source.size, context)


def runs(message: str) -> list[Run]:
    """The run a queued message asks for; none for an S3 notification."""
    document = json.loads(message)
    return [Run(**document["run"])] if "run" in document else []


@dataclass(frozen=True)
class Reconfirm:
    """Qualify again, as of `at`, every member of the audience's last applied run (Adobe's extend-ttl)."""

    tenant_id: str
    audience_key: str
    at: float
    created_by: str = ""

    @property
    def import_id(self) -> str:
        return f"{RECONFIRM_PREFIX}{self.audience_key}-{self.at!r}"

    def record(self) -> ImportRecord:
        """Its activity record: an operator sees it end, and why it failed."""
        return ImportRecord(
            import_id=self.import_id,
            audience=self.audience_key,
            s3_key="",
            uploaded_at=self.at,
            created_by=self.created_by,
        )


def request_reconfirm(tenant_id: str, audience_key: str, at: float, actor: str) -> ImportRecord:
    """Queue a Reconfirm and record it; Unprocessable if the audience has no successful run to re-confirm.

    As for a run, the message goes first: a crash before the record still ends with one."""
    state = import_store.state(tenant_id, audience_key)
    if state is None or not state.import_id.startswith(RUN_PREFIX):
        raise Unprocessable(
            "the audience has no successful run: its members come from runs; start one first",
            "run",
            "none_succeeded",
        )
    job = Reconfirm(tenant_id, audience_key, at, actor)
    queue.send_to_imports(json.dumps({"reconfirm": asdict(job)}))
    return import_store.begin(tenant_id, job.record())


def reconfirms(message: str) -> list[Reconfirm]:
    document = json.loads(message)
    return [Reconfirm(**document["reconfirm"])] if "reconfirm" in document else []


def process_reconfirm(job: Reconfirm, seconds_left: Callable[[], float]) -> ImportRecord:
    """Qualify the last applied list's members as of `job.at`, and end its record saying how many.

    Under the audience's lease, so no run changes the list meanwhile. Repeating it is harmless: a
    member already qualified as of `job.at` is stale. Out of time, it raises, and the queue's
    redelivery goes on.
    """
    record = import_store.begin(job.tenant_id, job.record())
    logger.append_keys(tenant=job.tenant_id, import_id=record.import_id)
    if record.status is not ImportStatus.PROCESSING:
        return record  # a second delivery of a finished one
    if not import_store.acquire_lease(job.tenant_id, job.audience_key, job.import_id, LEASE_SECONDS):
        raise AudienceBusy(job.audience_key)
    try:
        from audiences import compute  # the engine's layer is the imports function's alone

        state = import_store.state(job.tenant_id, job.audience_key)
        with tempfile.TemporaryDirectory(prefix="reconfirm-") as scratch:
            snapshot = objects.download_snapshot(state.snapshot_key, Path(scratch)) if state else None
            blocks = compute.read_snapshot(snapshot) if snapshot else iter(())
            members, confirmed = _reconfirmed(
                job, state, chain.from_iterable(block.to_list() for block in blocks), seconds_left
            )
        logger.info("members re-confirmed", extra={"members": confirmed})
        at = datetime.fromtimestamp(job.at, UTC).isoformat()
        message = f"{members} members of the last run re-confirmed as of {at}: their expiry starts again"
        return _end(job.tenant_id, record, ImportStatus.SUCCESS, rows=members, qualified=confirmed, message=message)
    finally:
        import_store.release_lease(job.tenant_id, job.audience_key, job.import_id)


def _reconfirmed(job: Reconfirm, state: AudienceImportState, members: Iterator[str], seconds_left) -> tuple[int, int]:
    """How many members were read, and how many of them qualified anew (or were re-timed)."""
    read = confirmed = 0
    while batch := list(islice(members, APPLY_BATCH)):
        if seconds_left() < RESERVE_SECONDS:
            raise TimeoutError(f"re-confirmed {confirmed} members before running out of time")
        changes = [
            MembershipChange(UserRef(state.identifier, value), state.external_id, State.QUALIFIED, job.at)
            for value in batch
        ]
        result = memberships.apply(job.tenant_id, changes)
        read, confirmed = read + len(batch), confirmed + result.qualified + result.updated
    return read, confirmed


def uploads(notification: str) -> list[Upload]:
    """The created objects an S3 notification (an SQS message body) reports; none for S3's test event."""
    document = json.loads(notification)
    uploads_found = []
    for record in document.get("Records", []):
        if not record.get("eventName", "").startswith("ObjectCreated"):
            continue
        s3 = record["s3"]
        etag = s3["object"].get("eTag", "")
        uploads_found.append(
            Upload(
                bucket=s3["bucket"]["name"],
                key=unquote_plus(s3["object"]["key"]),
                etag=etag if etag.startswith('"') else f'"{etag}"',
                size=int(s3["object"].get("size", 0)),
                uploaded_at=datetime.fromisoformat(record["eventTime"]).timestamp(),
            )
        )
    return uploads_found
