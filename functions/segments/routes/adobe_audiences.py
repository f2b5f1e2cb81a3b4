"""/data/core/ais/external-audience: Adobe Experience Platform's external audiences, on the shared catalog.

An audience is visible here only in the sandbox it was created in; audiences made through
other dialects have no sandbox and are not visible here. Each route authenticates, parses, makes
one call of `audiences.adobe.service` and shapes its answer.
"""

from http import HTTPStatus

from aws_lambda_powertools.event_handler.api_gateway import Router

from audiences import auth
from audiences.adobe import audiences as adobe
from audiences.adobe import http, objects, runs, service
from audiences.adobe.http import PREFIX
from audiences.openapi import json_body

router = Router()
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
    created = service.create(who, wanted, definition)
    answer = {"operationId": created.audience_id, "operationDetails": objects.operation_details(created, definition)}
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
    return http.respond(objects.operation_object(*service.visible(who, operation_id)))


@router.get(f"{PREFIX}/external-audience/<audience_id>", summary="Get an external audience", **DOCS)
def get_audience(audience_id: str):
    who = http.caller(router)
    audience, definition = service.visible(who, audience_id)
    return http.respond(objects.audience_object(audience, definition, service.size_of(who, audience)))


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
    updated, definition = service.update(who, audience_id, adobe.parse_patch(http.json_text(router)))
    return http.respond(objects.audience_object(updated, definition, service.size_of(who, updated)))


@router.post(
    f"{PREFIX}/external-audience/<audience_id>/upload-url",
    summary="Get a presigned URL to upload a source file",
    openapi_extensions=json_body({}, 'Empty for a file source; for a folder, the file\'s name: {"fileName": "a.csv"}.'),
    **DOCS,
)
def create_upload_url(audience_id: str):
    who = http.caller(router)
    target, path = service.source_upload_target(who, audience_id, http.json_text(router))
    return http.respond(objects.upload_target_object(target, path, who.sandbox))


@router.delete(f"{PREFIX}/external-audience/<audience_id>", summary="Delete an external audience", **DOCS)
def delete_audience(audience_id: str):
    who = http.caller(router)
    service.delete(who, audience_id)
    return http.respond(None, HTTPStatus.NO_CONTENT)


@router.post(
    f"{PREFIX}/external-audience/<audience_id>/runs",
    summary="Start a run: ingest the source files of a time window",
    openapi_extensions=json_body({"dataFilterStartTime": 1764547200}, "The window, epoch seconds (end: now)."),
    **DOCS,
)
def start_run(audience_id: str):
    who = http.caller(router)
    window = runs.parse_run(http.json_text(router))
    audience, shown = service.start_run(who, audience_id, window)
    return http.respond(runs.run_object(audience, shown))


@router.get(f"{PREFIX}/external-audience/<audience_id>/runs/<run_id>", summary="Get a run", **DOCS)
def get_run(audience_id: str, run_id: str):
    who = http.caller(router)
    return http.respond(runs.run_object(*service.run(who, audience_id, run_id)))


@router.get(f"{PREFIX}/external-audience/<audience_id>/runs", summary="List the runs", **DOCS)
def list_runs(audience_id: str):
    who = http.caller(router)
    request = runs.parse_list(router.current_event.multi_value_query_string_parameters or {})
    audience, shown, total = service.runs_of(who, audience_id, request)
    listed = [runs.run_object(audience, one) for one in shown]
    return http.respond({"runs": listed, "_page": {"limit": request.limit, "count": len(listed), "totalCount": total}})


@router.post(
    f"{PREFIX}/external-audience/extend-ttl/<audience_id>", summary="Re-confirm the last run's members", **DOCS
)
def extend_ttl(audience_id: str):
    """Re-confirm the last successful run's members as of now: their expiry starts again."""
    who = http.caller(router)
    audience = service.extend_ttl(who, audience_id)
    return http.respond({"audienceId": audience_id, "name": audience.display_name})
