"""Every import ends: what the dead-letter queues' consumers do with a work every delivery failed."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from audiences.domain import ImportRecord, ImportStatus
from audiences.importer import records
from audiences.importer.applying import fail_apply, planned
from audiences.importer.messages import Chunk, Run, Upload, Work
from audiences.importer.upload_imports import UploadLayout, open_record
from audiences.settings import get_settings
from audiences.wiring import stores

logger = Logger(child=True)

_NOT_REPORTED = "none reported: the function timed out or ran out of memory"


def give_up(work: Work, layout: UploadLayout) -> ImportRecord | None:
    """End an import whose every delivery failed: FAILED, saying why, so no import stays PROCESSING."""
    if isinstance(work, Upload):
        opened = open_record(work, layout)
        if opened is None:
            return None
        (tenant, audience_key, record), again = opened, "upload the file again"
        tenant_id = tenant.tenant_id
    else:
        tenant_id, audience_key = work.tenant_id, work.audience_key
        again = "start a new run" if isinstance(work, Run) else "ask for the re-confirmation again"
        record = stores().imports.begin(tenant_id, work.record())
        logger.append_keys(tenant=tenant_id, import_id=record.import_id)
    if record.status is not ImportStatus.PROCESSING:
        return record  # it did finish, on the last attempt or through another delivery
    last = record.last_failure or _NOT_REPORTED
    reason = f"given up after {get_settings().import_attempts} attempts (last failure: {last})"
    logger.warning("import given up", extra={"attempts": record.attempts})
    if plan := planned(tenant_id, record.import_id):  # chunks may have been applied
        return fail_apply(tenant_id, audience_key, record, plan, reason)
    if not isinstance(work, Upload):  # its lease was taken when it was asked for: the next one may start
        stores().imports.release_lease(tenant_id, audience_key, record.import_id)
    message = f"{reason}; nothing more will be applied: {again} to retry"
    return records.end(tenant_id, record, ImportStatus.FAILED, message=message)


def give_up_chunk(chunk: Chunk) -> ImportRecord | None:
    """A chunk every delivery failed to apply (the apply queue's dead letter): the import FAILED, saying why."""
    record = stores().imports.get(chunk.tenant_id, chunk.import_id)
    if record is None or record.status is not ImportStatus.PROCESSING:
        return record
    attempts, last = get_settings().import_attempts, record.last_failure or _NOT_REPORTED
    reason = f"chunk {chunk.number} could not be applied in {attempts} attempts (last failure: {last})"
    return fail_apply(chunk.tenant_id, chunk.audience_key, record, planned(chunk.tenant_id, chunk.import_id), reason)
