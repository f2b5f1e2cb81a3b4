"""/v3/schema/identifiers: ODP's API for a tenant's identifier fields."""

from http import HTTPStatus

from aws_lambda_powertools.event_handler.api_gateway import Router

from audiences import tenants
from audiences.domain import Scope
from audiences.odp import http
from audiences.odp import identifiers as odp_identifiers

router = Router()


@router.post("/v3/schema/identifiers")
def post_identifier():
    principal = http.authenticate(router, Scope.PRIVATE)
    identifier = odp_identifiers.parse_identifier(http.json_text(router))
    created = odp_identifiers.create_identifier(principal.tenant_id, identifier)
    return http.json_response(HTTPStatus.CREATED, created)


@router.get("/v3/schema/identifiers")
def get_identifiers():
    principal = http.authenticate(router, Scope.PRIVATE)
    return odp_identifiers.listed_body(tenants.identifiers(principal.tenant_id))
