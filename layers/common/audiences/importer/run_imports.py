"""A run: an audience's complete list as the source files uploaded within a window, read as one list.

Started through a dialect's API (which adds its own rules, such as guardrails), queued to the imports
function, and imported as an upload is; its id starts with its creation time, so an audience's runs
are one key range of the imports table.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict
from datetime import UTC, datetime
from functools import partial

from aws_lambda_powertools import Logger

from audiences.domain import ImportRecord, ImportStatus, Tenant
from audiences.errors import Conflict, NotFound, Reason
from audiences.importer import records
from audiences.importer.messages import Run, run_import_id, run_time_key, source_key
from audiences.importer.planning import MemberList, file_context, import_list, resume_or_import
from audiences.member_files import FileContext, FileReader, FileRejected, MemberFile, MemberFiles
from audiences.ports.objects import SourceObject, UploadReplaced
from audiences.settings import get_settings
from audiences.wiring import stores

logger = Logger(child=True)

MAX_RUN_ERRORS = 100  # row errors a run keeps, over all its files (and the count of all)


def run_in_progress(audience_key: str) -> Conflict:
    return Conflict(f"a run of audience {audience_key!r} is in progress: wait for it to end", "run", Reason.IN_PROGRESS)


def start_run(run: Run, admitted: Callable[[], AbstractContextManager]) -> ImportRecord:
    """Queue a run, one at a time per audience (Conflict if another holds it).

    `admitted` is the dialect's last word (its guardrails): entering it may refuse the run, and
    if queueing fails inside it, it takes the admission back; either way nothing was started. The
    message is sent before the record is written, so a crash in between still ends the run:
    the importer writes the same record when the message arrives.
    """
    if not stores().imports.acquire_lease(run.tenant_id, run.audience_key, run.import_id, records.LEASE_SECONDS):
        raise run_in_progress(run.audience_key)
    try:
        with admitted():
            stores().queues.send_to_imports(json.dumps({"run": asdict(run)}))
    except BaseException:
        stores().imports.release_lease(run.tenant_id, run.audience_key, run.import_id)
        raise
    return stores().imports.begin(run.tenant_id, run.record())


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
    return stores().imports.with_prefix(
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
    """The id of the audience's first run: one Query of one item."""
    first = stores().imports.first_with_prefix(tenant_id, run_import_id(audience_id, ""))
    return run_id_of(first, audience_id) if first else None


def run_record(tenant_id: str, audience_id: str, run_id: str) -> ImportRecord:
    record = stores().imports.get(tenant_id, run_import_id(audience_id, run_id))
    if record is None:
        raise NotFound(f"run {run_id!r} does not exist", "run", Reason.NOT_FOUND, {"id": run_id})
    return record


def process_run(run: Run, read_file: FileReader) -> ImportRecord | None:
    """Apply one run, each of its files read by the dialect's `read_file`."""
    tenant = stores().tenants.get_tenant(run.tenant_id)
    if tenant is None:
        logger.warning("run for an unknown tenant ignored")
        return None
    record = stores().imports.begin(run.tenant_id, run.record())
    logger.append_keys(tenant=run.tenant_id, import_id=record.import_id)
    if record.status is not ImportStatus.PROCESSING:
        return record  # a second delivery of a finished run
    read = partial(_read_sources, tenant, run, record, read_file)
    return resume_or_import(record, run.tenant_id, run.audience_key, read)


def _read_sources(tenant: Tenant, run: Run, record: ImportRecord, read_file: FileReader) -> ImportRecord:
    tenant_id = tenant.tenant_id
    audience = stores().catalog.get_audience(tenant_id, run.audience_key)
    if audience is None or audience.audience_id != run.audience_id:
        return records.end(tenant_id, record, ImportStatus.FAILED, message="the audience was deleted before the run")
    previous = stores().imports.state(tenant_id, run.audience_key)
    if previous is not None and previous.import_id == record.import_id:
        return records.end(tenant_id, record, ImportStatus.SUCCESS)  # applied before a crash; only the record was left
    if previous is not None and previous.as_of >= run.created_at:
        message = f"superseded: the newer import {previous.import_id} is already applied"
        return records.end(tenant_id, record, ImportStatus.SKIPPED, message=message)
    root = source_key(tenant_id, run.source)
    found = [
        source
        for source in stores().objects.source_objects(root, run.folder)
        if run.window_start <= int(source.uploaded_at) <= run.window_end  # S3 keeps whole seconds
    ]
    if not found:
        window = " and ".join(datetime.fromtimestamp(t, UTC).isoformat() for t in (run.window_start, run.window_end))
        message = (
            f"no file was uploaded to {run.source} between {window}: upload the files, then start a run "
            "whose window holds their upload times"
        )
        return records.end(tenant_id, record, ImportStatus.FAILED, message=message)
    context = file_context(tenant, audience)
    opened = [(_name_in_errors(s.key, root, run.folder), partial(_open_source, s, read_file, context)) for s in found]
    members = MemberFiles(opened, limit=MAX_RUN_ERRORS)
    return import_list(MemberList(tenant, audience, record, run.created_at, members, previous))


def _name_in_errors(key: str, root: str, folder: bool) -> str:
    """A file as its run's errors name it: its path in the folder, or its own name."""
    return key.removeprefix(root.rstrip("/") + "/") if folder else key.rsplit("/", 1)[-1]


def _open_source(source: SourceObject, read_file: FileReader, context: FileContext) -> MemberFile:
    try:
        body = stores().objects.open_upload(get_settings().imports_bucket, source.key, source.etag)
    except UploadReplaced as replaced:
        raise FileRejected("was replaced or deleted while the run read it: start a new run") from replaced
    return read_file(body, source.size, context)
