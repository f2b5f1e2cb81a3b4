"""The one place that turns outcomes and domain errors into Segment's Public API responses.

Every answer is JSON; errors are `{"errors": [{"type", "message", "field"?, "data"?}]}`. Once
the caller is known, every answer carries the rate-limit headers of its endpoint.
"""

from __future__ import annotations

import math
from email.utils import format_datetime
from http import HTTPStatus

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from audiences import edge, rate_limits
from audiences.domain import Principal, Scope
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
from audiences.rate_limits import Usage
from audiences.settings import get_settings

MAX_BODY_BYTES = 1024 * 1024
RATE_LIMITS = {"get": 100, "list": 60, "create": 50, "update": 50, "delete": 50}  # Segment's published limits
_USAGE = "segment_rate_limit_usage"
# OpenAPI: the Public API takes the tenant's private key as the token.
SECURITY_SCHEMES = {
    "segmentToken": {"type": "http", "scheme": "bearer", "description": "The tenant's private key as the token."}
}
SECURITY = [{"segmentToken": []}]

# Each error class of audiences.errors has its own row (a test checks); the base row makes it total.
_STATUS: dict[type[AudiencesError], tuple[HTTPStatus, str]] = {
    AudiencesError: (HTTPStatus.BAD_REQUEST, "bad-request"),
    Forbidden: (HTTPStatus.UNAUTHORIZED, "unauthorized"),
    InvalidInput: (HTTPStatus.UNPROCESSABLE_ENTITY, "input-validation"),
    PayloadTooLarge: (HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "payload-too-large"),
    UnsupportedMediaType: (HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type"),
    NotFound: (HTTPStatus.NOT_FOUND, "not-found"),
    Conflict: (HTTPStatus.CONFLICT, "conflict"),
    Unprocessable: (HTTPStatus.UNPROCESSABLE_ENTITY, "input-validation"),
    RateLimited: (HTTPStatus.TOO_MANY_REQUESTS, "RequestError"),
}


def status_of(error: AudiencesError) -> tuple[HTTPStatus, str]:
    return row_of(_STATUS, error)


def authenticate(app: APIGatewayRestResolver) -> Principal:
    """The caller, from `Authorization: Bearer <private key>`."""
    return edge.authenticated(edge.bearer_token(app), Scope.PRIVATE)


def limit(app: APIGatewayRestResolver, principal: Principal, endpoint: str, family: str = "") -> None:
    """Count the call against the tenant's limit for `endpoint` (of the API `family`, each counted apart: the
    audiences API's unnamed); RateLimited if it is over."""
    allowed = get_settings().rate_limits("SEGMENT_RATE_LIMITS", RATE_LIMITS)[endpoint]
    counter = f"segment:{family}:{endpoint}" if family else f"segment:{endpoint}"
    try:
        usage = rate_limits.consume(principal.tenant_id, counter, allowed)
    except RateLimited as limited:
        app.append_context(**{_USAGE: limited.usage})
        raise
    app.append_context(**{_USAGE: usage})


def json_text(app: APIGatewayRestResolver) -> str | None:
    return edge.json_text(app, MAX_BODY_BYTES, "send a smaller body")


def _rate_headers(app: APIGatewayRestResolver) -> dict[str, str]:
    usage: Usage | None = app.context.get(_USAGE)
    if usage is None:
        return {}  # the caller is not known (no valid token): there is no limit to report
    headers = {
        "X-RateLimit-Limit": str(usage.limit),
        "X-RateLimit-Consumed": str(usage.consumed),
        "X-RateLimit-Remaining": str(usage.remaining),
        "X-RateLimit-Reset": format_datetime(usage.reset_at, usegmt=True),
    }
    if usage.exceeded:
        headers["Retry-After"] = str(math.ceil(usage.ms_before_next / 1000))
    return headers


def unknown_path(path: str) -> NotFound:
    return NotFound(f"No such resource: {path}. The audiences API is /spaces/{{spaceId}}/audiences[/{{id}}].")


def respond(
    app: APIGatewayRestResolver, data: dict, status: int = HTTPStatus.OK, headers: dict[str, str] | None = None
) -> Response:
    return edge.json_response(status, {"data": data}, {**_rate_headers(app), **(headers or {})})


def _message(error: AudiencesError) -> str:
    """The error in Segment's words."""
    facts = error.facts
    if isinstance(error, Forbidden):
        return "Unauthorized: send `Authorization: Bearer <private key>` with a private key of this service"
    if error.resource == "audience" and error.reason is Reason.NOT_FOUND:
        return f"Audience with id '{facts.get('id', facts.get('key'))}' not found."
    if error.resource == "space":
        return f"Space with id '{facts['id']}' not found."
    if error.reason is Reason.KEY_TAKEN:
        return f"An audience with key '{facts['key']}' already exists in this space: choose another `key`."
    if error.reason is Reason.EXTERNAL_ID_TAKEN:
        return (
            f"Key '{facts['external_id']}' is already what events name audience '{facts['holder']}' by: "
            "choose another `key`."
        )
    if isinstance(error, RateLimited):
        return "Too many requests"
    return error.message


def _elements(error: AudiencesError, kind: str) -> list[dict]:
    if isinstance(error, InvalidInput) and error.problems:
        return [
            {"type": kind, "message": f"{problem.where} {problem.message}", "field": str(problem.where)}
            for problem in error.problems
        ]
    element: dict = {"type": kind, "message": _message(error)}
    if isinstance(error, InvalidInput):
        element["field"] = "body"
    if isinstance(error, RateLimited):
        usage: Usage = error.usage
        element["data"] = {
            "remainingPoints": usage.remaining,
            "msBeforeNext": usage.ms_before_next,
            "consumedPoints": usage.consumed,
        }
    return [element]


def error_response(app: APIGatewayRestResolver, error: Exception) -> Response:
    def refused(error: AudiencesError) -> Response:
        status, kind = status_of(error)
        return edge.json_response(status, {"errors": _elements(error, kind)}, _rate_headers(app))

    server = [{"type": "server", "message": edge.RETRY_IS_SAFE}]
    return edge.error_response(
        error, refused, lambda: edge.json_response(edge.INTERNAL, {"errors": server}, _rate_headers(app))
    )
