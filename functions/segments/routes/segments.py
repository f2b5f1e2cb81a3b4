"""/v3/segments: ODP's segments API for passthrough (external) audiences."""

from aws_lambda_powertools.event_handler.api_gateway import Router

from audiences import catalog, memberships
from audiences.domain import Scope
from audiences.odp import http
from audiences.odp.segments import VALIDATE_SUFFIX, checked_segment_id, keeping_unsaid, parse_segment, segment_body
from audiences.openapi import json_body

router = Router()
DOCS = {"tags": ["ODP segments"], "security": http.SECURITY}
SEGMENT = json_body(
    {"definition": {"external": {"external_audience_id": "vip"}}, "description": "", "metadata": {}},
    "The segment: its external audience id (what events and files name), description and metadata.",
)


@router.get("/v3/segments", summary="List the segment ids", **DOCS)
def list_segments():
    principal = http.authenticate(router, Scope.PRIVATE)
    return {"segment_ids": sorted(audience.key for audience in catalog.list_audiences(principal.tenant_id))}


@router.get("/v3/segments/<segment_id>", summary="Get a segment and its size", **DOCS)
def get_segment(segment_id: str):
    principal = http.authenticate(router, Scope.PRIVATE)
    audience = catalog.get_audience(principal.tenant_id, checked_segment_id(segment_id))
    return segment_body(audience, memberships.audience_size(principal.tenant_id, audience.external_id))


@router.post(
    "/v3/segments/<segment_id>",
    summary="Create a segment, or validate one (…/{id}:validate)",
    openapi_extensions=SEGMENT,
    **DOCS,
)
def create_or_validate_segment(segment_id: str):
    """POST …/{id} creates; POST …/{id}:validate only checks (API Gateway cannot route on a suffix)."""
    principal = http.authenticate(router, Scope.PRIVATE)
    if segment_id.endswith(VALIDATE_SUFFIX):
        parse_segment(segment_id.removesuffix(VALIDATE_SUFFIX), http.json_text(router))
        return {}
    audience = parse_segment(segment_id, http.json_text(router))
    return {"revision": catalog.create_audience(principal.tenant_id, audience, principal.actor).revision}


@router.put("/v3/segments/<segment_id>", summary="Create or replace a segment", openapi_extensions=SEGMENT, **DOCS)
def put_segment(segment_id: str):
    principal = http.authenticate(router, Scope.PRIVATE)
    audience = parse_segment(segment_id, http.json_text(router))
    return {"revision": catalog.put_audience(principal.tenant_id, audience, principal.actor, keeping_unsaid)}


@router.delete("/v3/segments/<segment_id>", summary="Delete a segment", **DOCS)
def delete_segment(segment_id: str):
    principal = http.authenticate(router, Scope.PRIVATE)
    catalog.delete_audience(principal.tenant_id, checked_segment_id(segment_id))
    return {}
