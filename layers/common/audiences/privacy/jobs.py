"""A privacy request's job: its steps in order, run from the privacy queue, each idempotent and checkpointed
on the request, so a crash anywhere followed by the redelivery goes on from the last checkpoint.

    mark         suppress (raised to the request's end), lift (0), or erase by keyed hash; the marks are in
                 effect in every container PRIVACY_CACHE_SECONDS later (E), and an erasure drops every change of
                 the subject dated up to E + MAX_FUTURE_SKEW_SECONDS: whatever was received before E, whatever ts
                 its client gave it
    settle       wait until E (a suppression, a lift), or until every event accepted before E is in the archive
                 too (PRIVACY_SETTLE_SECONDS after marking: an erasure): nothing is done before it is in effect
    imports      wait until no import that took its lease by E is in flight (later ones screen by the marks), for
                 IMPORTS_DEADLINE_SECONDS at most: past it the request fails loudly
    memberships  erase every membership and tombstone of each subject up to the erasure (the one write path)
    copies       every object of the tenant: the archive and member lists rewritten without the subjects' records
                 received by E, applied changes, uploaded files and exports holding them deleted; an access
                 request counts them and gathers the archived events for its export
    versions     where a bucket keeps versions, every noncurrent one holding a subject deleted
    export       an access request's export (a ZIP in the data bucket)
    verify       erase again what a write in flight during the purge may have left

A step that must wait returns how long; the handler queues the job again with that delay. Statuses only
move forward: queued -> running -> done (or failed, when its attempts run out or it passes its deadline; or
cancelled, while queued).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import time
import zipfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property, partial

from aws_lambda_powertools import Logger

from audiences import catalog, memberships, screening
from audiences.domain import DAY_SECONDS, State, UserRef, batched
from audiences.ports.objects import Bucket, UploadReplaced
from audiences.ports.privacy import FOREVER, Kind, Mark, PrivacyRequest, Status, Subject
from audiences.privacy import copies, member_lists
from audiences.privacy.requests import queue_job, subjects_of
from audiences.settings import get_settings
from audiences.wiring import stores

logger = Logger(child=True)

LEASE_WAIT_SECONDS = 30  # how often a job waiting for the tenant's imports looks again
# The longest an erasure waits for imports that began before its marks: an import of 10^8 members takes hours
# (docs/performance.md), not half a day. Past it the request fails (PrivacyRequestsPastDeadline).
IMPORTS_DEADLINE_SECONDS = 12 * 3600
MAX_EXPORT_EVENTS = 10_000  # archived events an access export holds at most; the rest are counted
STUCK_SECONDS = 30 * 60  # a job not advanced for this long lost its message: the sweep queues it again
EXPORT_URL_SECONDS = 3600
MIN_SECONDS_LEFT = 20  # a step stops and checkpoints when its invocation has less left than this
ERASE_BATCH = 100  # subjects erased between two checks of the time left
MARK_BATCH, MARK_WRITERS = 100, 10  # marks written a batch a writer, several at once

Seconds = Callable[[], float]
# A dialect's identifier columns of the tenant's uploads, beyond those named as the identifier field itself (ODP's):
# (header name, identifier field) pairs, as the composition root wires them.
UploadColumns = Callable[[str], Iterable[tuple[str, str]]]


def steps_of(kind: Kind) -> tuple[str, ...]:
    if kind.erases:
        return ("mark", "settle", "imports", "memberships", "copies", "versions", "verify")
    if kind is Kind.PURGE:
        return ("settle", "imports", "copies", "versions")
    if kind in (Kind.SUPPRESS, Kind.UNSUPPRESS):
        return ("mark", "settle")
    if kind is Kind.ACCESS:
        return ("copies", "export")
    return ()


def _erased_up_to(effective_at: float) -> float:
    """The latest ts an erasure takes: any change received before its marks took effect may be dated this late."""
    return effective_at + get_settings().max_future_skew_seconds


class PastDeadline(Exception):
    """The request waited for the tenant's imports past IMPORTS_DEADLINE_SECONDS: it is FAILED."""


@dataclass
class _Job:
    tenant_id: str
    request: PrivacyRequest
    subjects: list[Subject]
    seconds_left: Seconds
    now: Callable[[], float]
    upload_columns: UploadColumns
    results: dict = field(default_factory=dict)
    changes: dict = field(default_factory=dict)  # what the next checkpoint records besides the step

    @cached_property
    def columns(self) -> copies.Columns:
        """The columns of uploaded files that hold identifiers: each named as its field (ODP's), and the dialects'."""
        tenant = stores().tenants.get_tenant(self.tenant_id)
        named_as_field = {(name, name) for name in (tenant.identifiers if tenant else ())}
        return frozenset(named_as_field | {*self.upload_columns(self.tenant_id)})

    @property
    def named(self) -> copies.Subjects:
        return frozenset(self.subjects)

    @property
    def marked_at(self) -> float:
        """When its marks are in effect in every container (a purge marks nothing: its creation)."""
        return self.request.effective_at or self.request.created_at

    @property
    def erased_up_to(self) -> float:
        return _erased_up_to(self.marked_at)

    @property
    def export_prefix(self) -> str:
        return f"privacy/tenant={self.tenant_id}/{self.request.request_id}"

    def save(self, step: str, position: str = "", **changes) -> None:
        updated = stores().privacy.update_request(
            self.tenant_id,
            self.request.request_id,
            {Status.RUNNING},
            step=step,
            position=position,
            results=self.results,
            updated_at=self.now(),
            **(self.changes | changes),
        )
        if updated is None:
            raise _Ended
        self.request, self.changes = updated, {}

    def hashes(self) -> list[str]:
        secret = stores().privacy.secret(self.tenant_id)
        return [screening.subject_hash(secret, s.field, s.value) for s in self.subjects]


class _Ended(Exception):
    """The request left RUNNING under us (given up, or finished by a duplicate message): nothing to do."""


def run(
    tenant_id: str,
    request_id: str,
    seconds_left: Seconds,
    now: Callable[[], float] = time.time,
    upload_columns: UploadColumns = lambda tenant_id: (),
) -> float | None:
    """Go on with the request from its checkpoint; seconds to wait before the next go, or None if it is over.
    PastDeadline if it failed waiting for the tenant's imports."""
    request = stores().privacy.get_request(tenant_id, request_id)
    if request is None or request.status.terminal:
        return None
    if request.status is Status.QUEUED:
        started = stores().privacy.update_request(
            tenant_id, request_id, {Status.QUEUED}, status=Status.RUNNING, updated_at=now()
        )
        if started is None:  # cancelled meanwhile, or a duplicate message started it
            return run(tenant_id, request_id, seconds_left, now)
        request = started
    subjects = subjects_of(tenant_id, request)
    job = _Job(tenant_id, request, subjects, seconds_left, now, upload_columns, dict(request.results))
    steps = steps_of(request.kind)
    try:
        for index in range(steps.index(request.step) if request.step in steps else 0, len(steps)):
            wait = _STEPS[steps[index]](job)
            if wait is not None:  # recorded as advanced, so the sweep leaves a waiting job alone
                job.save(steps[index], job.request.position)
                return wait
            if index + 1 < len(steps):
                job.save(steps[index + 1])
        job.save("", status=Status.DONE, finished_at=now())
    except _Ended:
        return None
    logger.info("privacy request done", extra={"request": request_id, "kind": request.kind.value})
    return None


def _mark(job: _Job) -> float | None:
    settings, marked_at, kind, days = get_settings(), job.now(), job.request.kind, job.request.suppress_days
    effective_at = marked_at + settings.privacy_cache_seconds
    if kind is Kind.UNSUPPRESS:
        how = {"suppressed_until": 0}
    else:
        until = job.request.created_at + days * DAY_SECONDS if days else FOREVER
        how = {
            "suppressed_until": until if kind.suppresses else None,
            "erased_at": _erased_up_to(effective_at) if kind.erases else None,
        }
    with ThreadPoolExecutor(MARK_WRITERS) as writers:
        list(
            writers.map(
                lambda batch: stores().privacy.mark(job.tenant_id, list(batch), **how),
                batched(job.hashes(), MARK_BATCH),
            )
        )
    screening.forget(job.tenant_id)
    # an erasure also waits for the archive to hold every event accepted before then (the settle ≥ the cache)
    job.changes["not_before"] = marked_at + settings.privacy_settle_seconds if kind.erases else effective_at
    job.changes["effective_at"] = effective_at
    return None


def _settle(job: _Job) -> float | None:
    # a purge marks nothing: it waits for the archive from its start
    not_before = job.request.not_before or job.request.created_at + get_settings().privacy_settle_seconds
    left = not_before - job.now()
    return left if left > 0 else None


def _imports(job: _Job) -> float | None:
    """Imports that took their lease after the marks took effect screen by them; those before are waited for."""
    if not stores().imports.leases_held(job.tenant_id, taken_by=job.marked_at):
        return None
    if job.now() < job.request.created_at + IMPORTS_DEADLINE_SECONDS:
        return LEASE_WAIT_SECONDS
    now = job.now()
    job.results["failure"] = "imports still in flight past the deadline"
    stores().privacy.update_request(
        job.tenant_id,
        job.request.request_id,
        {Status.RUNNING},
        status=Status.FAILED,
        results=job.results,
        updated_at=now,
        finished_at=now,
    )
    raise PastDeadline(job.request.request_id)


def _memberships(job: _Job) -> float | None:
    """The subjects erased a batch at a time (each batch's users at once), the position saved between."""
    for start in range(int(job.request.position or 0), len(job.subjects), ERASE_BATCH):
        if job.seconds_left() < MIN_SECONDS_LEFT:
            job.save("memberships", str(start))
            return 0
        batch = job.subjects[start : start + ERASE_BATCH]
        users = [UserRef(s.field, s.value) for s in batch]
        _count(job, "memberships", memberships.erase(job.tenant_id, users, job.erased_up_to))
    return None


def _verify(job: _Job) -> float | None:
    users = [UserRef(s.field, s.value) for s in job.subjects]
    _count(job, "memberships", memberships.erase(job.tenant_id, users, job.erased_up_to))
    return None


def _locations(tenant_id: str) -> list[tuple[Bucket, str]]:
    return [
        (Bucket.DATA, f"events/tenant={tenant_id}/"),
        (Bucket.DATA, f"imports/tenant={tenant_id}/"),
        (Bucket.DATA, f"changes/tenant={tenant_id}/"),
        (Bucket.DATA, f"privacy/tenant={tenant_id}/"),
        (Bucket.IMPORTS, f"{tenant_id}/"),
    ]


def _copies(job: _Job) -> float | None:
    """Every object of the tenant read once for all the request's subjects, in key order, checkpointed."""
    rewrite = job.request.kind.purges
    where, _, after = job.request.position.partition("|")
    locations = _locations(job.tenant_id)
    start = int(where or 0)
    for n in range(start, len(locations)):
        bucket, prefix = locations[n]
        for stored in stores().objects.stored_objects(bucket, prefix, after if n == start else ""):
            if job.seconds_left() < MIN_SECONDS_LEFT + member_lists.seconds_needed(stored.key, stored.size):
                job.save("copies", f"{n}|{after}")
                return 0
            if not stored.key.startswith(job.export_prefix + "/"):  # not what this request gathers itself
                _one_object(job, bucket, stored.key, rewrite)
            after = stored.key
        after = ""
    return None


def _count(job: _Job, name: str, by: int = 1) -> None:
    job.results[name] = job.results.get(name, 0) + by


def _one_upload(job: _Job, key: str, rewrite: bool) -> None:
    """An uploaded file, streamed (it may be gigabytes, or a bomb): erased whole if it holds a subject."""
    for _ in range(5):  # replaced while read: read the new one
        [found] = stores().objects.source_objects(key, folder=False) or [None]
        if found is None:
            return
        try:
            body = stores().objects.open_upload(get_settings().imports_bucket, key, found.etag)
            rows = copies.text_rows(iter(partial(body.read, copies.PIECE_BYTES), b""), job.named, job.columns)
        except UploadReplaced:
            continue
        _count(job, "objects_read")
        if rows.records:
            _count(job, "import_files")
            if rewrite:
                stores().objects.erase_object(Bucket.IMPORTS, key)
                _count(job, "objects_erased")
        return
    raise RuntimeError("an upload kept being replaced while it was read; the job's retry goes on")


def _one_object(job: _Job, bucket: Bucket, key: str, rewrite: bool) -> None:
    if bucket is Bucket.IMPORTS:
        _one_upload(job, key, rewrite)
        return
    if member_lists.is_member_list(key):
        _one_member_list(job, bucket, key, rewrite)
        return
    gathering = job.request.kind is Kind.ACCESS
    for _ in range(5):  # a concurrent rewrite of the same object (another request's) makes the PUT refuse
        held = stores().objects.read_object(bucket, key)
        if held is None:
            return
        data, etag = held
        _count(job, "objects_read")
        received_by = job.marked_at if rewrite else None
        handling, found = copies.find(key, data, job.named, rewrite, received_by, collect=gathering)
        if not found.records:
            return
        if key.startswith("events/"):
            _count(job, "events", found.records)
            if gathering:
                _gather(job, key, found.lines)
        else:
            _count(job, "import_files")
        if not rewrite:
            return
        if handling is copies.Handling.ERASE:
            stores().objects.erase_object(bucket, key)
            _count(job, "objects_erased")
            return
        if stores().objects.replace_object(bucket, key, found.without, etag):
            _count(job, "objects_rewritten")
            return
    raise RuntimeError("an object kept changing while it was rewritten; the job's retry goes on")


def _gather(job: _Job, key: str, lines: tuple[bytes, ...]) -> None:
    """An access request keeps the subjects' archived events of an object for its export, up to
    MAX_EXPORT_EVENTS in all (a part per archive object, so a retry writes the same part again)."""
    room = MAX_EXPORT_EVENTS - job.results.get("events_gathered", 0)
    if room <= 0:
        return
    part = hashlib.sha256(key.encode()).hexdigest()[:32]
    stores().objects.put_data(f"{job.export_prefix}/events/{part}.gz", gzip.compress(b"".join(lines[:room])))
    _count(job, "events_gathered", min(room, len(lines)))


def _one_member_list(job: _Job, bucket: Bucket, key: str, rewrite: bool) -> None:
    """A member list (10^8 members are gigabytes), streamed through /tmp: rewritten without the subjects only if
    it names one, from a file, by a PUT conditioned on the ETag read."""
    for _ in range(5):  # a concurrent rewrite of the same object (another request's) makes the PUT refuse
        with member_lists.downloaded(bucket, key) as held:
            if held is None:
                return
            path, etag = held
            _count(job, "objects_read")
            kept = path.with_name("kept")
            if not member_lists.without(path, job.subjects, kept if rewrite else None):
                return
            _count(job, "import_files")
            if not rewrite:
                return
            if stores().objects.replace_object_with_file(bucket, key, kept, etag):
                _count(job, "objects_rewritten")
                return
    raise RuntimeError("an object kept changing while it was rewritten; the job's retry goes on")


def _versions(job: _Job) -> float | None:
    """Where a bucket keeps versions: every noncurrent version under the tenant's prefixes that holds a subject
    is deleted (what an import deleted or a rewrite replaced). One listing pass where none are kept."""
    for bucket, prefix in _locations(job.tenant_id):
        for version in stores().objects.noncurrent_versions(bucket, prefix):
            needed = MIN_SECONDS_LEFT + member_lists.seconds_needed(version.key, version.size)
            if job.seconds_left() < needed:  # the next message lists again: what went is gone
                job.save("versions")
                return 0
            if member_lists.is_member_list(version.key):  # streamed, as the current one
                with member_lists.downloaded(bucket, version.key, version.version_id) as held:
                    named = held is not None and member_lists.without(held[0], job.subjects)
                if named:
                    stores().objects.delete_version(bucket, version.key, version.version_id)
                    _count(job, "versions_deleted")
                continue
            held = stores().objects.read_object(bucket, version.key, version.version_id)
            if held is None:
                continue
            if bucket is Bucket.DATA:
                found = copies.find(version.key, held[0], job.named, rewrite=False)[1]
            else:
                found = copies.text_rows([held[0]], job.named, job.columns)
            if found.records:
                stores().objects.delete_version(bucket, version.key, version.version_id)
                _count(job, "versions_deleted")
    return None


def _export(job: _Job) -> float | None:
    """The access export: what is held about each subject (its memberships in every audience, its archived
    events), as a ZIP in the data bucket; the events gathered for it are then deleted."""
    now, marks = job.now(), stores().privacy.screening(job.tenant_id).marks
    events = _gathered_events(job)
    documents = [
        _held_about(job, subject, marks.get(digest), now, events)
        for subject, digest in zip(job.subjects, job.hashes(), strict=True)
    ]
    first, *others = documents
    document = {**first, "others": others} if others else first
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(job.request.export_name or "export.json", json.dumps(document, indent=2, ensure_ascii=False))
    key = f"{job.export_prefix}/export.zip"
    stores().objects.put_data(key, out.getvalue())
    for part in list(stores().objects.stored_objects(Bucket.DATA, f"{job.export_prefix}/events/")):
        stores().objects.erase_object(Bucket.DATA, part.key)
    job.results["export"] = key
    return None


def _gathered_events(job: _Job) -> list[dict]:
    found = []
    for part in stores().objects.stored_objects(Bucket.DATA, f"{job.export_prefix}/events/"):
        held = stores().objects.read_object(Bucket.DATA, part.key)
        if held is not None:
            found += [json.loads(line) for line in gzip.decompress(held[0]).splitlines() if line.strip()]
    return sorted(found, key=lambda record: (record["received_at"], record["upload_id"], record["index"]))


def _held_about(job: _Job, subject: Subject, mark: Mark | None, now: float, events: list[dict]) -> dict:
    entries = stores().memberships.user_memberships(job.tenant_id, UserRef(subject.field, subject.value))
    audiences = catalog.audiences_by_external_id(job.tenant_id, set(entries))
    listed = []
    for external_id, (state, ts) in sorted(entries.items()):
        audience = audiences.get(external_id)
        expires = audience.expires_at(ts) if audience and state is State.QUALIFIED else None
        listed.append(
            {
                "audienceId": audience.audience_id if audience else None,
                "key": audience.key if audience else external_id,
                "name": audience.display_name if audience else None,
                "state": state.value,
                "since": _iso(ts),
                "expiresAt": _iso(expires) if expires is not None else None,
            }
        )
    named = [subject.field, subject.value]
    return {
        "subject": {"namespace": subject.field, "value": subject.value},
        "memberships": listed,
        "suppressed": bool(mark and mark.suppressed(now)),
        "events": [
            {
                "receivedAt": record["received_at"],
                "source": record["source"],
                "subjects": record["subjects"],  # whom else the event names: a delete of them erases the export
                "event": record["event"],
            }
            for record in events
            if named in record.get("subjects", [])
        ],
        "storedCopies": {
            "events": job.results.get("events", 0),
            "eventsInExport": job.results.get("events_gathered", 0),
            "importFiles": job.results.get("import_files", 0),
        },
    }


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def download_url(request: PrivacyRequest) -> str | None:
    """A fresh URL of an access request's export, once it is done."""
    key = request.results.get("export")
    if request.status is not Status.DONE or not key:
        return None
    return stores().objects.download_url(Bucket.DATA, key, EXPORT_URL_SECONDS)


def give_up(tenant_id: str, request_id: str, now: float | None = None) -> None:
    """End a request whose job's attempts ran out (its message dead-lettered) as FAILED."""
    now = time.time() if now is None else now
    stores().privacy.update_request(
        tenant_id, request_id, {Status.QUEUED, Status.RUNNING}, status=Status.FAILED, updated_at=now, finished_at=now
    )


def sweep(now: float | None = None) -> int:
    """Queue again every job not advanced for STUCK_SECONDS (its message was lost); how many."""
    now = time.time() if now is None else now
    queued = 0
    for tenant in stores().tenants.list_tenants():
        after = None
        while True:
            page, more = stores().privacy.requests(tenant.tenant_id, after, 100)
            for request in page:
                if not request.status.terminal and request.updated_at < now - STUCK_SECONDS:
                    queue_job(tenant.tenant_id, request.request_id)
                    queued += 1
            if not more:
                break
            after = page[-1].request_id
    return queued


_STEPS: dict[str, Callable[[_Job], float | None]] = {
    "mark": _mark,
    "settle": _settle,
    "imports": _imports,
    "memberships": _memberships,
    "copies": _copies,
    "versions": _versions,
    "export": _export,
    "verify": _verify,
}
