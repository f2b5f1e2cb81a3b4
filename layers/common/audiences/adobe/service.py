"""Adobe's external audiences and runs as the core keeps them: what a route asks, in Adobe's rules.

Each function is one call a route makes after authenticating and parsing: an audience visible only
in the sandbox it was created in, a key chosen among candidates, guardrails charged only for runs
that start, the first run the only one that is not differential, extend-ttl only after a run.
"""

from __future__ import annotations

import secrets
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace

from audiences import catalog, importer, memberships, rate_limits
from audiences.adobe import runs
from audiences.adobe.audiences import Definition, Patch, key_candidates, source_path, source_root
from audiences.adobe.runs import ShownRun
from audiences.domain import Audience, Principal
from audiences.errors import Conflict, Reason, Unprocessable, audience_not_found

MAX_ID_CHARS = 128


@dataclass(frozen=True)
class Caller:
    """Who asks, and in which of the tenant's sandboxes."""

    principal: Principal
    sandbox: str


def visible(who: Caller, audience_id: str) -> tuple[Audience, Definition]:
    """The audience, if it was created through this dialect in the caller's sandbox; else not found."""
    if len(audience_id) > MAX_ID_CHARS:
        raise audience_not_found(id=audience_id[:MAX_ID_CHARS] + "…")
    audience = catalog.get_audience_by_id(who.principal.tenant_id, audience_id)
    definition = Definition.of(audience)
    if definition is None or definition.sandbox != who.sandbox:
        raise audience_not_found(id=audience_id)
    return audience, definition


def size_of(who: Caller, audience: Audience) -> int:
    return memberships.audience_size(who.principal.tenant_id, audience.external_id)


def create(who: Caller, wanted: Audience, definition: Definition) -> Audience:
    """Under the first free key of the candidates; a claim (name, customAudienceId) taken in the sandbox is a 409."""
    for key in key_candidates(wanted, definition, secrets.token_hex(4)):
        try:
            return catalog.create_audience(
                who.principal.tenant_id, replace(wanted, key=key, external_id=key), who.principal.actor
            )
        except Conflict as error:
            if error.reason is Reason.CLAIM_TAKEN:
                raise
            taken = error
    raise taken


def update(who: Caller, audience_id: str, patch: Patch) -> tuple[Audience, Definition]:
    visible(who, audience_id)
    updated = catalog.update_audience(who.principal.tenant_id, audience_id, patch, who.principal.actor)
    return updated, Definition.of(updated)


def delete(who: Caller, audience_id: str) -> None:
    visible(who, audience_id)
    catalog.delete_audience_by_id(who.principal.tenant_id, audience_id)


def source_upload_target(who: Caller, audience_id: str, body: str | None) -> tuple[importer.UploadTarget, str]:
    """A presigned PUT of a source file of the audience (its file, or a named file of its folder), and its path."""
    _, definition = visible(who, audience_id)
    path = source_path(definition, body)
    return importer.source_upload_target(who.principal.tenant_id, path), path


def _guardrails(who: Caller, audience_id: str) -> AbstractContextManager:
    """Adobe's daily limits on runs started, per audience then per sandbox (days from 00:00 UTC)."""
    limits = (
        (f"adobe:runs:{who.sandbox}:{audience_id}", runs.RUNS_PER_AUDIENCE_PER_DAY),
        (f"adobe:runs:{who.sandbox}", runs.RUNS_PER_SANDBOX_PER_DAY),
    )
    return rate_limits.admitted(who.principal.tenant_id, limits, window_seconds=runs.DAY_SECONDS)


def start_run(who: Caller, audience_id: str, window: runs.Window) -> tuple[Audience, ShownRun]:
    """Start a run of the audience's source files uploaded within `window`, as of now."""
    audience, definition = visible(who, audience_id)
    tenant, now = who.principal.tenant_id, time.time()
    run = importer.Run(
        tenant_id=tenant,
        audience_key=audience.key,
        audience_id=audience_id,
        run_id=importer.new_run_id(now),
        source=source_root(definition),
        folder=definition.source_spec["type"] == "folder",
        window_start=window.start,
        window_end=window.end,
        created_at=now,
        created_by=who.principal.actor,
    )
    first = importer.first_run_id(tenant, audience_id)
    record = importer.start_run(run, admitted=lambda: _guardrails(who, audience_id))
    return audience, ShownRun(record, run.run_id, differential=first is not None)


def run(who: Caller, audience_id: str, run_id: str) -> tuple[Audience, ShownRun]:
    audience, _ = visible(who, audience_id)
    record = importer.run_record(who.principal.tenant_id, audience_id, run_id)
    first = importer.first_run_id(who.principal.tenant_id, audience_id)
    return audience, ShownRun(record, run_id, differential=run_id != first)


def runs_of(who: Caller, audience_id: str, request: runs.ListRequest) -> tuple[Audience, list[ShownRun], int]:
    """A page of the audience's runs as asked, and how many match in all."""
    audience, _ = visible(who, audience_id)
    tenant = who.principal.tenant_id
    records, total = importer.runs_of(
        tenant,
        audience_id,
        newest_first=request.newest_first,
        skip=request.start,
        limit=request.limit,
        status=request.status,
        created_from=request.created_from,
        created_to=request.created_to,
    )
    first = importer.first_run_id(tenant, audience_id)
    shown = []
    for record in records:
        run_id = importer.run_id_of(record, audience_id)
        shown.append(ShownRun(record, run_id, differential=run_id != first))
    return audience, shown, total


def extend_ttl(who: Caller, audience_id: str) -> Audience:
    """Re-confirm the members of the audience's last run as of now: their expiry starts again.
    Unprocessable if its last applied list is not a run's (or there is none)."""
    audience, _ = visible(who, audience_id)
    tenant = who.principal.tenant_id
    state = importer.last_applied(tenant, audience.key)
    if state is None or not state.import_id.startswith(importer.RUN_PREFIX):
        raise Unprocessable(
            "the audience has no successful run: its members come from runs; start one first",
            "run",
            Reason.NONE_SUCCEEDED,
        )
    importer.request_reconfirm(importer.Reconfirm(tenant, audience.key, time.time(), who.principal.actor))
    return audience
