"""The one place that turns outcomes and domain errors into Adobe Experience Platform's responses.

Every error is `{"type", "status", "title", "detail", "report": {"errorCode", "details"}}`, with
Adobe's error codes; `detail` says what is wrong and how to fix it.
"""

from __future__ import annotations

import math
from http import HTTPStatus

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types

from audiences import edge
from audiences.adobe.audiences import checked_sandbox
from audiences.adobe.service import Caller
from audiences.domain import Scope
from audiences.errors import (
    AudiencesError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Reason,
    Unprocessable,
    UnsupportedMediaType,
    row_of,
)

MAX_BODY_BYTES = 1024 * 1024
PREFIX = "/data/core/ais"
REQUIRED_HEADERS = ("Authorization", "x-api-key", "x-gw-ims-org-id", "x-sandbox-name")
_ORG_SUFFIX = "@AdobeOrg"
# OpenAPI: Experience Platform's four headers, which every call sends together.
SECURITY_SCHEMES = {
    "adobeToken": {"type": "http", "scheme": "bearer", "description": "The tenant's private key as the token."},
    "adobeApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key", "description": "Any client id."},
    "adobeOrg": {
        "type": "apiKey",
        "in": "header",
        "name": "x-gw-ims-org-id",
        "description": "The tenant id, bare or as `<tenant>@AdobeOrg`.",
    },
    "adobeSandbox": {"type": "apiKey", "in": "header", "name": "x-sandbox-name", "description": "e.g. prod."},
}
SECURITY = [{scheme: [] for scheme in SECURITY_SCHEMES}]


class HeaderMissing(AudiencesError):
    """One of the four headers every Experience Platform call carries is absent."""


class OrgMismatch(AudiencesError):
    """x-gw-ims-org-id names an organization that is not the token's tenant."""


# Each error class has its own row (a test checks); the base row makes the lookup total.
_STATUS: dict[type[AudiencesError], tuple[HTTPStatus, str, str]] = {
    AudiencesError: (HTTPStatus.BAD_REQUEST, "100910-400", "BAD_REQUEST"),
    InvalidInput: (HTTPStatus.BAD_REQUEST, "100910-400", "BAD_REQUEST"),
    Forbidden: (HTTPStatus.BAD_REQUEST, "100911-400", "BAD_REQUEST"),
    HeaderMissing: (HTTPStatus.UNAUTHORIZED, "100920-401", "UNAUTHORIZED"),
    OrgMismatch: (HTTPStatus.UNAUTHORIZED, "100921-401", "UNAUTHORIZED"),
    NotFound: (HTTPStatus.NOT_FOUND, "100940-404", "NOT_FOUND"),
    Conflict: (HTTPStatus.CONFLICT, "100950-409", "DUPLICATE_RESOURCE"),
    Unprocessable: (HTTPStatus.UNPROCESSABLE_ENTITY, "100960-422", "UNPROCESSABLE_ENTITY"),
    PayloadTooLarge: (HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "100912-413", "PAYLOAD_TOO_LARGE"),
    UnsupportedMediaType: (HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "100913-415", "UNSUPPORTED_MEDIA_TYPE"),
    RateLimited: (HTTPStatus.TOO_MANY_REQUESTS, "100980-429", "TOO_MANY_REQUESTS"),
}


def status_of(error: AudiencesError) -> tuple[HTTPStatus, str, str]:
    return row_of(_STATUS, error)


def caller(app: APIGatewayRestResolver, required: tuple[str, ...] = REQUIRED_HEADERS) -> Caller:
    """Who calls, from Adobe's four headers (the `required` ones must be there): the token is a private key,
    the org its tenant; no sandbox named is the empty sandbox."""
    headers = app.current_event.headers
    for name in required:
        if not (headers.get(name.lower()) or "").strip():
            raise HeaderMissing(
                f"The {name} header is missing: every call of this API sends {', '.join(required)}.",
                "header",
                Reason.MISSING,
                {"header": name},
            )
    principal = edge.authenticated(edge.bearer_token(app), Scope.PRIVATE)
    if headers["x-gw-ims-org-id"].strip().removesuffix(_ORG_SUFFIX) != principal.tenant_id:
        raise OrgMismatch(
            "x-gw-ims-org-id is not the organization of this token: send the tenant id the token was "
            f"issued for (as `<tenant>` or `<tenant>{_ORG_SUFFIX}`).",
            "organization",
            Reason.MISMATCH,
        )
    sandbox = (headers.get("x-sandbox-name") or "").strip()
    return Caller(principal, checked_sandbox(sandbox) if sandbox else "")


def json_text(app: APIGatewayRestResolver) -> str | None:
    return edge.json_text(app, MAX_BODY_BYTES, "send a smaller body")


def respond(data: dict | None, status: int = HTTPStatus.OK) -> Response:
    if data is None:
        return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body="")
    return edge.json_response(status, data)


def unknown_path(path: str) -> NotFound:
    return NotFound(
        f"No such resource: {path}. The external audiences API is under {PREFIX}/external-audience.",
        "path",
        Reason.NOT_FOUND,
    )


def detail(error: AudiencesError) -> str:
    """The error in Adobe's words: what is wrong and how to fix it."""
    facts = error.facts
    if isinstance(error, Forbidden):
        return "The access token is not valid: send `Authorization: Bearer <private key>` with a private key."
    if error.resource == "audience" and error.reason is Reason.NOT_FOUND:
        return f"No external audience {facts.get('id', facts.get('key'))!r} in this sandbox."
    if error.reason is Reason.CLAIM_TAKEN:
        kind, value = facts["claim"].split("/", 3)[2:]
        return f"An external audience with {kind} {value!r} already exists in this sandbox: choose another {kind}."
    if error.reason in (Reason.KEY_TAKEN, Reason.EXTERNAL_ID_TAKEN):
        return "Another audience holds this audience's key: choose another customAudienceId or name."
    if isinstance(error, RateLimited):
        return (
            f"This is over the limit of {error.usage.limit} a day ({error.usage.consumed} started today): "
            f"retry after {error.usage.reset_at.isoformat()}."
        )
    if isinstance(error, InvalidInput) and error.problems:
        return f"{error.message}: " + "; ".join(f"{problem.where} {problem.message}" for problem in error.problems)
    return error.message


def error_response(error: Exception) -> Response:
    return edge.error_response(error, _refused, _failed)


def _refused(error: AudiencesError) -> Response:
    status, code, title = status_of(error)
    details = [{"field": str(p.where), "reason": p.message} for p in getattr(error, "problems", ())]
    headers = (
        {"Retry-After": str(math.ceil(error.usage.ms_before_next / 1000))} if isinstance(error, RateLimited) else {}
    )
    return edge.json_response(status, error_body(status, code, title, detail(error), details), headers)


def _failed() -> Response:
    status, code, title = edge.INTERNAL, "100970-500", "INTERNAL_SERVER_ERROR"
    return edge.json_response(
        status, error_body(status, code, title, "Internal error: retrying the same request is safe.", [])
    )


def error_body(status: HTTPStatus, code: str, title: str, detail: str, details: list[dict]) -> dict:
    return {
        "type": f"http://ns.adobe.com/aep/errors/{code}",
        "status": status.value,
        "title": title,
        "detail": detail,
        "report": {"errorCode": code, "details": details},
    }
