"""/data/core/ais/external-audience: Adobe Experience Platform's external audiences, on the shared catalog.

An audience is visible here only in the sandbox it was created in; audiences made through
other dialects have no sandbox and are not visible here.
"""

import secrets
import time
from dataclasses import replace
from http import HTTPStatus

from aws_lambda_powertools.event_handler.api_gateway import Router

from audiences import auth, catalog, importer, memberships, rate_limits
from audiences.adobe import audiences as adobe
from audiences.adobe import http, runs
from audiences.adobe.http import PREFIX, Caller
from audiences.domain import Audience
from audiences.errors import Conflict, audience_not_found
from audiences.openapi import json_body

router = Router()
MAX_ID_CHARS = 128
DOCS = {"tags": ["Adobe Experience Platform: external audiences"], "security": http.SECURITY}
CREATE = json_body(
    {
        "name": "Loyal buyers",
        "customAudienceId": "loyal",
        "fields": [{"name": "email", "type": "string", "identityNs": "Email"}],
        "sourceSpec": {"params": {"path": "loyal/members.csv", "type": "file"}},
        "ttlInDays": "30",
        "audienceType": "people",
        "originName": "CUSTOM_UPLOAD",
    },
    "The audience, its fields (one with an identity namespace) and where its source files are.",
)


def _visible(who: Caller, audience_id: str) -> tuple[Audience, adobe.Definition]:
    """The audience, if it was created through this dialect in the caller's sandbox; else not found."""
    if len(audience_id) > MAX_ID_CHARS:
        raise audience_not_found(id=audience_id[:MAX_ID_CHARS] + "…")
    audience = catalog.get_audience_by_id(who.principal.tenant_id, audience_id)
    definition = adobe.Definition.of(audience)
    if definition is None or definition.sandbox != who.sandbox:
        raise audience_not_found(id=audience_id)
    return audience, definition


def _object(who: Caller, audience: Audience, definition: adobe.Definition) -> dict:
    size = memberships.audience_size(who.principal.tenant_id, audience.external_id)
    return adobe.audience_object(audience, definition, size)


def _create(who: Caller, wanted: Audience, definition: adobe.Definition) -> Audience:
    """Under the first free key of the candidates; a claim (name, customAudienceId) taken in the sandbox is a 409."""
    for key in adobe.key_candidates(wanted, definition, secrets.token_hex(4)):
        try:
            return catalog.create_audience(
                who.principal.tenant_id, replace(wanted, key=key, external_id=key), who.principal.actor
            )
        except Conflict as error:
            if error.reason == "claim_taken":
                raise
            taken = error
    raise taken


@router.post(
    f"{PREFIX}/external-audience",  # Powertools' REST resolver also matches it with a trailing "/"
    summary="Create an external audience (asynchronous)",
    openapi_extensions=CREATE,
    **DOCS,
)
def create_audience():
    who = http.caller(router)
    identifiers = auth.tenant_of(who.principal).high_confidence_identifiers()
    wanted, definition = adobe.parse_create(http.json_text(router), who.sandbox, identifiers)
    created = _create(who, wanted, definition)
    answer = {"operationId": created.audience_id, "operationDetails": adobe.operation_details(created, definition)}
    return http.respond(answer, HTTPStatus.ACCEPTED)


@router.get(f"{PREFIX}/external-audiences/operations/<operation_id>", summary="Get a create operation", **DOCS)
@router.get(
    f"{PREFIX}/external-audience/operations/<operation_id>",
    summary="Get a create operation (the singular path)",
    operation_id="get_operation_singular",
    **DOCS,
)
def get_operation(operation_id: str):
    who = http.caller(router)
    return http.respond(adobe.operation_object(*_visible(who, operation_id)))


@router.get(f"{PREFIX}/external-audience/<audience_id>", summary="Get an external audience", **DOCS)
def get_audience(audience_id: str):
    who = http.caller(router)
    return http.respond(_object(who, *_visible(who, audience_id)))


@router.patch(
    f"{PREFIX}/external-audience/<audience_id>",
    summary="Update an external audience",
    openapi_extensions=json_body(
        {"description": "Buyers with a loyalty card"}, "Any of description, labels, fields and ttlInDays."
    ),
    **DOCS,
)
def update_audience(audience_id: str):
    who = http.caller(router)
    _visible(who, audience_id)
    patch = adobe.parse_patch(http.json_text(router))
    updated = catalog.update_audience(who.principal.tenant_id, audience_id, patch, who.principal.actor)
    return http.respond(_object(who, updated, adobe.Definition.of(updated)))


@router.post(
    f"{PREFIX}/external-audience/<audience_id>/upload-url",
    summary="Get a presigned URL to upload a source file",
    openapi_extensions=json_body({}, 'Empty for a file source; for a folder, the file\'s name: {"fileName": "a.csv"}.'),
    **DOCS,
)
def create_upload_url(audience_id: str):
    who = http.caller(router)
    _, definition = _visible(who, audience_id)
    path = adobe.source_path(definition, http.json_text(router))
    target = importer.source_upload_target(who.principal.tenant_id, path)
    return http.respond(adobe.upload_target_object(target, path, who.sandbox))


@router.delete(f"{PREFIX}/external-audience/<audience_id>", summary="Delete an external audience", **DOCS)
def delete_audience(audience_id: str):
    who = http.caller(router)
    _visible(who, audience_id)
    catalog.delete_audience_by_id(who.principal.tenant_id, audience_id)
    return http.respond(None, HTTPStatus.NO_CONTENT)


def _guardrails(who: Caller, audience_id: str):
    """Adobe's daily limits on runs started, per audience then per sandbox (days from 00:00 UTC)."""
    limits = (
        (f"adobe:runs:{who.sandbox}:{audience_id}", runs.RUNS_PER_AUDIENCE_PER_DAY),
        (f"adobe:runs:{who.sandbox}", runs.RUNS_PER_SANDBOX_PER_DAY),
    )
    return rate_limits.admitted(who.principal.tenant_id, limits, window_seconds=runs.DAY_SECONDS)


@router.post(
    f"{PREFIX}/external-audience/<audience_id>/runs",
    summary="Start a run: ingest the source files of a time window",
    openapi_extensions=json_body({"dataFilterStartTime": 1764547200}, "The window, epoch seconds (end: now)."),
    **DOCS,
)
def start_run(audience_id: str):
    who = http.caller(router)
    audience, definition = _visible(who, audience_id)
    window = runs.parse_run(http.json_text(router))
    tenant = who.principal.tenant_id
    now = time.time()
    run = importer.Run(
        tenant_id=tenant,
        audience_key=audience.key,
        audience_id=audience_id,
        run_id=importer.new_run_id(now),
        source=adobe.source_root(definition),
        folder=definition.source_spec["type"] == "folder",
        window_start=window.start,
        window_end=window.end,
        created_at=now,
        created_by=who.principal.actor,
    )
    first = importer.first_run_id(tenant, audience_id)
    record = importer.start_run(run, admitted=lambda: _guardrails(who, audience_id))
    return http.respond(runs.run_object(audience, record, run.run_id, differential=first is not None))


@router.get(f"{PREFIX}/external-audience/<audience_id>/runs/<run_id>", summary="Get a run", **DOCS)
def get_run(audience_id: str, run_id: str):
    who = http.caller(router)
    audience, _ = _visible(who, audience_id)
    record = importer.run_record(who.principal.tenant_id, audience_id, run_id)
    first = importer.first_run_id(who.principal.tenant_id, audience_id)
    return http.respond(runs.run_object(audience, record, run_id, differential=run_id != first))


@router.get(f"{PREFIX}/external-audience/<audience_id>/runs", summary="List the runs", **DOCS)
def list_runs(audience_id: str):
    who = http.caller(router)
    audience, _ = _visible(who, audience_id)
    request = runs.parse_list(router.current_event.multi_value_query_string_parameters or {})
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
    listed = []
    for record in records:
        run_id = importer.run_id_of(record, audience_id)
        listed.append(runs.run_object(audience, record, run_id, differential=run_id != first))
    return http.respond({"runs": listed, "_page": {"limit": request.limit, "count": len(listed), "totalCount": total}})


@router.post(
    f"{PREFIX}/external-audience/extend-ttl/<audience_id>", summary="Re-confirm the last run's members", **DOCS
)
def extend_ttl(audience_id: str):
    """Re-confirm the last successful run's members as of now: their expiry starts again."""
    who = http.caller(router)
    audience, _ = _visible(who, audience_id)
    importer.request_reconfirm(who.principal.tenant_id, audience.key, time.time(), who.principal.actor)
    return http.respond({"audienceId": audience_id, "name": audience.display_name})
