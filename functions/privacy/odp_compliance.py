"""/v3/compliance: ODP's Compliance API (GDPR, CCPA and LGPD deletes, CCPA opt-outs, their status)."""

from http import HTTPStatus

from aws_lambda_powertools.event_handler.api_gateway import Router

from audiences import auth, edge
from audiences.domain import Scope
from audiences.errors import NotFound
from audiences.odp import compliance, http
from audiences.openapi import json_body
from audiences.ports.privacy import Kind
from audiences.privacy import requests

router = Router()
DOCS = {"tags": ["ODP compliance"], "security": http.SECURITY}
BODY = json_body(
    [{"identifier_field_name": "email", "identifier_value": "jane@example.com", "requester": "dpo@example.com"}],
    "One request per item (1 to 1,000): the identifier field, its value, and who asked (an email address).",
)


def _unknown(path: str) -> NotFound:
    return NotFound(f"No such resource: {path}. Frameworks are {', '.join(compliance.FRAMEWORKS)}.")


def _submit(framework: str, kind: Kind, frameworks: tuple[str, ...]):
    principal = http.authenticate(router, Scope.PRIVATE)
    if framework not in frameworks:
        raise _unknown(router.current_event.path)
    tenant = auth.tenant_of(principal)
    items = compliance.parse_items(http.json_text(router), tenant)
    ids = [
        requests.submit(
            tenant,
            kind,
            [item.subject],
            origin=compliance.ORIGIN,
            created_by=principal.actor,
            keep_days=compliance.KEEP_DAYS,
            attributes={"framework": framework, "requester": item.requester},
            suppress_days=compliance.SUPPRESS_DAYS,
        ).request.request_id
        for item in items
    ]
    return edge.json_response(HTTPStatus.ACCEPTED, {"request_ids": ids})


@router.post("/v3/compliance/<framework>/delete", summary="Delete profiles", openapi_extensions=BODY, **DOCS)
def delete(framework: str):
    return _submit(framework, Kind.SUPPRESS_WITH_DELETE, compliance.FRAMEWORKS)


@router.post("/v3/compliance/<framework>/optout", summary="Opt profiles out of sale", openapi_extensions=BODY, **DOCS)
def opt_out(framework: str):
    return _submit(framework, Kind.OPT_OUT, compliance.OPT_OUT_FRAMEWORKS)


@router.get("/v3/compliance/<framework>/status/<request_id>", summary="A request's status", **DOCS)
def status(framework: str, request_id: str):
    principal = http.authenticate(router, Scope.PRIVATE)
    if framework not in compliance.FRAMEWORKS:
        raise _unknown(router.current_event.path)
    found = requests.get(principal.tenant_id, request_id)
    if found.request.origin != compliance.ORIGIN or found.attributes["framework"] != framework:
        raise NotFound(f"privacy request {request_id!r} does not exist", "privacy request")
    return edge.json_response(HTTPStatus.OK, compliance.status_word(found.request))
