"""A re-confirmation: every member of the audience's last applied list qualified again as of now, so
a TTL's expiry starts again for each (Adobe's extend-ttl). Queued to the imports function, under the
audience's lease, with an activity record of its own."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from itertools import chain, islice
from pathlib import Path

from aws_lambda_powertools import Logger

from audiences import memberships
from audiences.domain import AudienceImportState, ImportRecord, ImportStatus, MembershipChange, State, UserRef
from audiences.importer import records
from audiences.importer.messages import Reconfirm
from audiences.wiring import stores

logger = Logger(child=True)

APPLY_BATCH = 500  # members a re-confirmation writes at once
# Stop applying while this much time is left, to record the outcome before Lambda stops us.
RESERVE_SECONDS = 60


def last_applied(tenant_id: str, audience_key: str) -> AudienceImportState | None:
    """The list last applied to the audience: what a re-confirmation qualifies again."""
    return stores().imports.state(tenant_id, audience_key)


def request_reconfirm(job: Reconfirm) -> ImportRecord:
    """Queue a re-confirmation and record it. As for a run, the message goes first: a crash before the
    record still ends with one."""
    stores().queues.send_to_imports(json.dumps({"reconfirm": asdict(job)}))
    return stores().imports.begin(job.tenant_id, job.record())


def process_reconfirm(job: Reconfirm, seconds_left: Callable[[], float]) -> ImportRecord:
    """Qualify the last applied list's members as of `job.at`, and end its record saying how many.

    Under the audience's lease, so no import changes the list meanwhile. Repeating it is harmless: a
    member already qualified as of `job.at` is stale. Out of time, it raises, and the queue's
    redelivery goes on.
    """
    record = stores().imports.begin(job.tenant_id, job.record())
    logger.append_keys(tenant=job.tenant_id, import_id=record.import_id)
    if record.status is not ImportStatus.PROCESSING:
        return record  # a second delivery of a finished one
    if not stores().imports.acquire_lease(job.tenant_id, job.audience_key, job.import_id, records.LEASE_SECONDS):
        raise records.AudienceBusy(job.audience_key)
    try:
        from audiences import compute  # the engine's layer is the imports function's alone

        state = last_applied(job.tenant_id, job.audience_key)
        with tempfile.TemporaryDirectory(prefix="reconfirm-") as scratch:
            snapshot = stores().objects.download_snapshot(state.snapshot_key, Path(scratch)) if state else None
            blocks = compute.read_snapshot(snapshot) if snapshot else iter(())
            values = chain.from_iterable(block.to_list() for block in blocks)
            read, confirmed = _reconfirmed(job, state, values, seconds_left)
        logger.info("members re-confirmed", extra={"members": confirmed})
        at = datetime.fromtimestamp(job.at, UTC).isoformat()
        message = f"{read} members of the last list re-confirmed as of {at}: their expiry starts again"
        return records.end(job.tenant_id, record, ImportStatus.SUCCESS, rows=read, qualified=confirmed, message=message)
    finally:
        stores().imports.release_lease(job.tenant_id, job.audience_key, job.import_id)


def _reconfirmed(job: Reconfirm, state: AudienceImportState, values: Iterator[str], seconds_left) -> tuple[int, int]:
    """How many members were read, and how many of them qualified anew (or were re-timed)."""
    read = confirmed = 0
    while batch := list(islice(values, APPLY_BATCH)):
        if seconds_left() < RESERVE_SECONDS:
            raise TimeoutError(f"re-confirmed {confirmed} members before running out of time")
        changes = [
            MembershipChange(UserRef(state.identifier, value), state.external_id, State.QUALIFIED, job.at)
            for value in batch
        ]
        result = memberships.apply(job.tenant_id, changes)
        read, confirmed = read + len(batch), confirmed + result.qualified + result.updated
    return read, confirmed
