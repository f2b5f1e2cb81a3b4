"""An import's activity record and its audience's lease: a record is begun once and ended once, and
one import of an audience runs at a time, from reading its list to the last change applied."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools import Logger

from audiences import memberships
from audiences.domain import TENANT_ID, ImportRecord, ImportStatus
from audiences.errors import NotFound
from audiences.importer.messages import Chunk, Work
from audiences.settings import get_settings
from audiences.wiring import stores

logger = Logger(child=True)

LEASE_SECONDS = 16 * 60  # the imports function's timeout and a margin: a crashed holder's lease expires
# While chunks apply, each renews the lease for this long: far longer than one chunk's every retry
# takes, so only an apply that stopped progressing lets the next import of the audience in.
APPLY_LEASE_SECONDS = 60 * 60


class AudienceBusy(Exception):
    """Another import of the same audience is running; try again later."""


def activity(
    tenant_id: str, audience: str | None, status: ImportStatus | None, cursor: str | None, limit: int
) -> tuple[list[ImportRecord], str | None]:
    """The tenant's imports, newest first, and the cursor of the next page (None at the end)."""
    return stores().imports.page(tenant_id, audience, status, cursor, limit)


def activity_record(tenant_id: str, import_id: str) -> ImportRecord:
    record = stores().imports.get(tenant_id, import_id)
    if record is None:
        raise NotFound(f"import {import_id!r} does not exist")
    return record


def end(tenant_id: str, record: ImportRecord, status: ImportStatus, **details) -> ImportRecord:
    """End the record once (a later end changes nothing); a success notes the size it left."""
    if status is ImportStatus.SUCCESS:  # the activity log is the audience's size history
        audience = stores().catalog.get_audience(tenant_id, record.audience)
        details["size_after"] = memberships.audience_size(tenant_id, audience.external_id) if audience else None
    finished = stores().imports.finish(tenant_id, record.import_id, status, **details)
    logger.info("import finished", extra={"status": status.value, "reason": details.get("message", "")})
    # None: another delivery finished it first, and its outcome stands
    return finished or stores().imports.get(tenant_id, record.import_id)


def under_lease(
    tenant_id: str, audience_key: str, record: ImportRecord, work: Callable[[], ImportRecord]
) -> ImportRecord:
    """Do an import's `work` under its audience's lease (AudienceBusy if another holds it). Once the
    import's changes are planned the lease passes to the apply: it is freed here only if the import
    ended, or failed before planning."""
    if not stores().imports.acquire_lease(tenant_id, audience_key, record.import_id, LEASE_SECONDS):
        raise AudienceBusy(audience_key)
    try:
        outcome = work()
    except BaseException:
        if not stores().imports.planned(tenant_id, record.import_id):
            stores().imports.release_lease(tenant_id, audience_key, record.import_id)
        raise
    if outcome.status is not ImportStatus.PROCESSING:
        stores().imports.release_lease(tenant_id, audience_key, record.import_id)
    return outcome


def note_failed_attempt(work: Work | Chunk, attempt: int, reason: str) -> None:
    """Say on the activity record that delivery `attempt` failed and the queue will retry it."""
    if isinstance(work, Chunk):
        reason = f"chunk {work.number}: {reason}"
    if not TENANT_ID.fullmatch(work.tenant_id):
        return
    attempts = get_settings().import_attempts
    message = f"attempt {attempt} of {attempts} failed ({reason})" + ("; it is retried" if attempt < attempts else "")
    stores().imports.update(work.tenant_id, work.import_id, attempts=attempt, last_failure=reason, message=message)
