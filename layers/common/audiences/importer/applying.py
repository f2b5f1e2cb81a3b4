"""Applying an import's planned changes: each chunk through the one write path, counted once; the last
one finishes the import (the audience's state advances to its snapshot), a chunk that cannot be
applied fails it (its users left in doubt for the next import to set right)."""

from __future__ import annotations

import gzip
import json
from dataclasses import asdict, dataclass

from aws_lambda_powertools import Logger

from audiences import memberships
from audiences.domain import AudienceImportState, ImportRecord, ImportStatus, MembershipChange, State, UserRef
from audiences.importer import records
from audiences.importer.messages import Chunk
from audiences.ports.imports import StateMoved
from audiences.wiring import stores

logger = Logger(child=True)


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

    @property
    def change_objects(self) -> list[str]:
        return [key for key in (self.changes_key, self.index_key) if key]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Plan:
        document = json.loads(text)
        state = document["state"]
        if "uploaded_at" in state:  # a plan recorded by an earlier release
            state["as_of"] = state.pop("uploaded_at")
        return cls(**{**document, "state": AudienceImportState(**state)})


def planned(tenant_id: str, import_id: str) -> Plan | None:
    stored = stores().imports.planned(tenant_id, import_id)
    return Plan.from_json(stored) if stored else None


def queue_chunks(tenant_id: str, audience_key: str, import_id: str, plan: Plan, chunks_total: int) -> ImportRecord:
    """Queue every chunk not yet applied (again, after a crash: a duplicate is harmless); finish if none."""
    done = stores().imports.chunks_done(tenant_id, import_id)
    pending = [n for n in range(chunks_total) if n not in done]
    if not pending:
        return finish(tenant_id, audience_key, import_id, plan)
    ranges = json.loads(stores().objects.get_data(plan.index_key)) if plan.index_key else None
    messages = []
    for n in pending:
        where = {"key": plan.changes_key, "start": ranges[n][0], "end": ranges[n][1]} if ranges else {}
        messages.append(json.dumps({"chunk": asdict(Chunk(tenant_id, audience_key, import_id, n, **where))}))
    stores().queues.send_to_apply(messages)
    logger.info("apply fanned out", extra={"chunks": len(pending)})
    return stores().imports.get(tenant_id, import_id)


def apply_chunk(chunk: Chunk) -> ImportRecord | None:
    """Apply one chunk through the one write path, count it once, and finish the import after the last.

    Every step may run again: a change applied twice is stale the second time, a chunk is counted
    once (its number joins a set), and finishing is idempotent."""
    tenant_id, audience_key, import_id = chunk.tenant_id, chunk.audience_key, chunk.import_id
    logger.append_keys(tenant=tenant_id, import_id=import_id)
    record = stores().imports.get(tenant_id, import_id)
    if record is None or record.status is not ImportStatus.PROCESSING:
        return record  # finished (or failed) already: nothing more to apply
    plan = planned(tenant_id, import_id)
    if not stores().imports.acquire_lease(tenant_id, audience_key, import_id, records.APPLY_LEASE_SECONDS):
        reason = "no chunk was applied for over an hour and another import took the audience"
        return fail_apply(tenant_id, audience_key, record, plan, reason)
    if chunk.number not in stores().imports.chunks_done(tenant_id, import_id):
        changes = _changes_of(chunk)
        memberships.apply(tenant_id, changes)
        record = stores().imports.chunk_applied(tenant_id, import_id, chunk.number, len(changes))
        if record is None:
            return stores().imports.get(tenant_id, import_id)
        if not chunk.key:  # a chunk of an earlier release, an object of its own
            stores().objects.delete_data(chunk.location)
    else:
        record = stores().imports.get(tenant_id, import_id)
    if record.chunks_done == record.chunks_total:
        return finish(tenant_id, audience_key, import_id, plan)
    return record


def _changes_of(chunk: Chunk) -> list[MembershipChange]:
    data = (
        stores().objects.get_range(chunk.key, chunk.start, chunk.end)
        if chunk.key
        else stores().objects.get_data(chunk.location)
    )
    document = json.loads(gzip.decompress(data))
    identifier, state = document["identifier"], State(document["state"])
    return [
        MembershipChange(UserRef(identifier, value), document["audience"], state, document["at"])
        for value in document["values"]
    ]


def finish(tenant_id: str, audience_key: str, import_id: str, plan: Plan) -> ImportRecord:
    """Advance the audience to the new snapshot, settle what it set right, end SUCCESS, free the audience."""
    try:
        stores().imports.advance(tenant_id, audience_key, plan.state, plan.previous_import_id)
    except StateMoved:
        state = stores().imports.state(tenant_id, audience_key)
        if state is None or state.import_id != import_id:
            raise  # not a redelivery of this step: nothing else advances the state under the lease
    if plan.settles:
        stores().imports.settle(tenant_id, audience_key, plan.settles)
    for entry in plan.settles:  # what they left in doubt is set right now
        for key in [entry["joined"]["key"], entry["left"]["key"], *entry.get("changes", [])]:
            stores().objects.delete_data(key)
    if plan.previous_snapshot_key:
        stores().objects.delete_data(plan.previous_snapshot_key)
    for key in [plan.changed["joined"]["key"], plan.changed["left"]["key"], *plan.change_objects]:
        stores().objects.delete_data(key)
    finished = records.end(tenant_id, stores().imports.get(tenant_id, import_id), ImportStatus.SUCCESS)
    stores().imports.release_lease(tenant_id, audience_key, import_id)
    return finished


def fail_apply(tenant_id: str, audience_key: str, record: ImportRecord, plan: Plan, reason: str) -> ImportRecord:
    """End an apply that cannot go on: FAILED, its users left in doubt for the next import to set right
    (which deletes this one's changes too: what was not applied is of no use)."""
    entry = {"import_id": record.import_id, **plan.changed, "changes": plan.change_objects}
    stores().imports.add_unsettled(tenant_id, audience_key, entry)
    message = (
        f"{reason}; {record.changes_applied} of {record.changes_total} changes were applied: the next import of "
        "the audience sets every user this one changed as its own list says"
    )
    finished = records.end(tenant_id, record, ImportStatus.FAILED, message=message)
    stores().imports.release_lease(tenant_id, audience_key, record.import_id)
    return finished
