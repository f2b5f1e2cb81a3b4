"""/v3/schema/identifiers: ODP's API for a tenant's identifier fields."""

from http import HTTPStatus

from aws_lambda_powertools.event_handler.api_gateway import Router

from audiences import edge, tenants
from audiences.domain import Scope
from audiences.odp import http
from audiences.odp import identifiers as odp_identifiers
from audiences.openapi import json_body

router = Router()
DOCS = {"tags": ["ODP identifiers"], "security": http.SECURITY}
IDENTIFIER = json_body(
    {"name": "loyalty_id", "display_name": "Loyalty ID", "merge_confidence": "high"},
    "The identifier field: its name ends in one of " + ", ".join(odp_identifiers.IDENTIFIER_SUFFIXES) + ".",
)


@router.post("/v3/schema/identifiers", summary="Create an identifier field", openapi_extensions=IDENTIFIER, **DOCS)
def post_identifier():
    principal = http.authenticate(router, Scope.PRIVATE)
    identifier = odp_identifiers.parse_identifier(http.json_text(router))
    created = odp_identifiers.create_identifier(principal.tenant_id, identifier)
    return edge.json_response(HTTPStatus.CREATED, created)


@router.get("/v3/schema/identifiers", summary="List the identifier fields", **DOCS)
def get_identifiers():
    principal = http.authenticate(router, Scope.PRIVATE)
    return odp_identifiers.listed_body(tenants.identifiers(principal.tenant_id))
