"""/spaces/{spaceId}/audiences: Segment's Public API audiences, on the catalog every dialect shares."""

from aws_lambda_powertools.event_handler.api_gateway import Router

from audiences import catalog, memberships
from audiences.domain import Audience, Principal
from audiences.errors import audience_not_found, space_not_found
from audiences.openapi import json_body
from audiences.segment import audiences as segment
from audiences.segment import http

router = Router()
DOCS = {"tags": ["Segment Public API: audiences"], "security": http.SECURITY}


def _caller(endpoint: str, space_id: str, audience_id: str | None = None) -> Principal:
    """Authenticate, count the call, and refuse a space that is not the caller's as not found."""
    principal = http.authenticate(router)
    http.limit(router, principal, endpoint)
    segment.checked_path_param("spaceId", space_id)
    if audience_id is not None:
        segment.checked_path_param("id", audience_id)
    if space_id != principal.tenant_id:
        raise audience_not_found(id=audience_id) if audience_id is not None else space_not_found(space_id)
    return principal


def _object(tenant_id: str, audience: Audience) -> dict:
    size = memberships.audience_size(tenant_id, audience.external_id)
    return segment.audience_object(audience, tenant_id, size)


@router.get("/spaces/<space_id>/audiences", summary="List the audiences, with sizes", **DOCS)
def list_audiences(space_id: str):
    principal = _caller("list", space_id)
    request = segment.parse_page_request(router.current_event.query_string_parameters or {}, principal.tenant_id)
    page = catalog.page(principal.tenant_id, segment.ORDER, request.count, request.after, request.before)
    sizes = memberships.audience_sizes(principal.tenant_id, [a.external_id for a in page.audiences])
    total = catalog.count_audiences(principal.tenant_id)
    return http.respond(
        router,
        {
            "audiences": [segment.audience_object(a, space_id, sizes[a.external_id]) for a in page.audiences],
            "pagination": segment.pagination(request, page, principal.tenant_id, total),
        },
    )


@router.get("/spaces/<space_id>/audiences/<audience_id>", summary="Get an audience", **DOCS)
def get_audience(space_id: str, audience_id: str):
    principal = _caller("get", space_id, audience_id)
    audience = catalog.get_audience_by_id(principal.tenant_id, audience_id)
    return http.respond(router, {"audience": _object(principal.tenant_id, audience)})


@router.post(
    "/spaces/<space_id>/audiences",
    summary="Create an audience",
    openapi_extensions=json_body(
        {"name": "VIP customers", "description": "Most valuable", "enabled": True, "definition": {"query": "…"}},
        "The audience: name (its key follows from it unless given), description, enabled, definition (kept as is).",
    ),
    **DOCS,
)
def create_audience(space_id: str):
    principal = _caller("create", space_id)
    wanted = segment.parse_create(http.json_text(router))
    created = catalog.create_audience(principal.tenant_id, wanted, principal.actor)
    return http.respond(router, {"audience": _object(principal.tenant_id, created)})


@router.patch(
    "/spaces/<space_id>/audiences/<audience_id>",
    summary="Update an audience",
    openapi_extensions=json_body({"enabled": False}, "Any of name, description, enabled and definition."),
    **DOCS,
)
def update_audience(space_id: str, audience_id: str):
    principal = _caller("update", space_id, audience_id)
    patch = segment.parse_patch(http.json_text(router))
    updated = catalog.update_audience(principal.tenant_id, audience_id, patch, principal.actor)
    return http.respond(router, {"audience": _object(principal.tenant_id, updated)})


@router.delete("/spaces/<space_id>/audiences/<audience_id>", summary="Delete an audience", **DOCS)
def delete_audience(space_id: str, audience_id: str):
    principal = _caller("delete", space_id, audience_id)
    catalog.delete_audience_by_id(principal.tenant_id, audience_id)
    return http.respond(router, {"status": "SUCCESS"})
