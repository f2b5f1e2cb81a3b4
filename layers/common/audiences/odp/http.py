"""The one place that turns outcomes and domain errors into ODP's HTTP response shapes.

ODP answers with a different error body per API family; each handler installs the shapes of
the families it serves, chosen by path prefix.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types

from audiences import auth
from audiences.domain import Principal, Scope
from audiences.errors import (
    AudiencesError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    Problem,
    RateLimited,
    Unprocessable,
    UnsupportedMediaType,
    row_of,
)
from audiences.json_bodies import body_text, check_json_transport

logger = Logger(child=True)

# OpenAPI: every ODP route takes the tenant's key in x-api-key (public for events and GraphQL).
SECURITY_SCHEMES = {
    "odpApiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": "The tenant's private key; POST /v3/events and /v3/graphql also take its public key.",
    }
}
SECURITY = [{"odpApiKey": []}]

# Each error class of audiences.errors has its own row (a test checks); a subclass defined
# elsewhere takes its nearest ancestor's, and the base row makes the lookup total.
_STATUS: dict[type[AudiencesError], HTTPStatus] = {
    AudiencesError: HTTPStatus.BAD_REQUEST,
    Forbidden: HTTPStatus.FORBIDDEN,
    InvalidInput: HTTPStatus.BAD_REQUEST,
    PayloadTooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    UnsupportedMediaType: HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    NotFound: HTTPStatus.NOT_FOUND,
    Conflict: HTTPStatus.CONFLICT,
    Unprocessable: HTTPStatus.BAD_REQUEST,
    RateLimited: HTTPStatus.TOO_MANY_REQUESTS,
}


def status_of(error: AudiencesError) -> HTTPStatus:
    return row_of(_STATUS, error)


def odp_message(error: AudiencesError) -> str:
    """The error in ODP's words: an audience is a segment, its external id `external_audience_id`."""
    facts = error.facts
    if error.resource != "audience":
        return error.message
    if error.reason == "not_found":
        return f"segment {facts.get('key', facts.get('id'))!r} does not exist"
    if error.reason == "key_taken":
        return f"segment {facts['key']!r} already exists"
    if error.reason == "external_id_taken":
        return f"external_audience_id {facts['external_id']!r} is already used by segment {facts['holder']!r}"
    return error.message


ErrorBody = Callable[[HTTPStatus, str, tuple[Problem, ...]], dict]


def timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def json_response(status: int, body: dict) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


def accepted() -> Response:
    """ODP's answer once every event of an upload is durably applied."""
    return json_response(HTTPStatus.ACCEPTED, {"title": "Accepted", "status": 202, "timestamp": timestamp()})


def events_error(status: HTTPStatus, message: str, problems: tuple[Problem, ...]) -> dict:
    """Upload-events API: title/status/timestamp, with every invalid event listed."""
    detail: dict = {"message": message}
    if problems:
        detail["invalids"] = [{"event": problem.where, "message": problem.message} for problem in problems]
    return {"title": status.phrase, "status": status.value, "timestamp": timestamp(), "detail": detail}


def segments_error(status: HTTPStatus, message: str, problems: tuple[Problem, ...]) -> dict:
    """Segments API: code/message/details."""
    return {"code": status.value, "message": message, "details": [f"{p.where}: {p.message}" for p in problems]}


def schema_error(status: HTTPStatus, message: str, problems: tuple[Problem, ...]) -> dict:
    """Schema API: title/status/timestamp, with each invalid field and the reason."""
    detail: dict = {"message": message}
    if problems:
        detail["invalids"] = [{"field": problem.where, "reason": problem.message} for problem in problems]
    return {"title": status.phrase, "status": status.value, "timestamp": timestamp(), "detail": detail}


def graphql_error(status: HTTPStatus, message: str, problems: tuple[Problem, ...]) -> dict:
    """GraphQL transport errors (the request never reached the executor)."""
    return {"errors": [{"message": message, "extensions": {"classification": "InvalidSyntax"}}]}


# The segments, identifiers and imports APIs: their largest valid body is a few kilobytes.
MANAGEMENT_BODY_BYTES = 64 * 1024


def json_text(app: APIGatewayRestResolver, max_bytes: int = MANAGEMENT_BODY_BYTES, hint: str = "") -> str | None:
    """The body as text once it passed the transport checks: JSON media type (415), size (413), UTF-8."""
    request = app.current_event
    text = body_text(request.body, request.is_base64_encoded)
    check_json_transport(
        request.headers.get("content-type"), text, max_bytes, hint or "no valid request of this API is that large"
    )
    return text


def authenticate(app: APIGatewayRestResolver, required: Scope) -> Principal:
    """The caller, from ODP's x-api-key header; every log line after this names the tenant."""
    principal = auth.authenticate(app.current_event.headers.get("x-api-key"), required)
    logger.append_keys(tenant=principal.tenant_id)
    return principal


def error_response(app: APIGatewayRestResolver, error: Exception, shapes: dict[str, ErrorBody]) -> Response:
    """The answer to `error` in the shape of the API family the path belongs to (longest prefix wins)."""
    path = app.current_event.path
    shape = shapes[max((p for p in shapes if path.startswith(p)), key=len)]
    if isinstance(error, Forbidden):
        # API Gateway's own answer to a bad key: says nothing of why.
        return json_response(HTTPStatus.FORBIDDEN, {"message": "Forbidden"})
    if isinstance(error, AudiencesError):
        status = status_of(error)
        logger.info("request rejected", extra={"status": status.value, "error": type(error).__name__})
        problems = error.problems if isinstance(error, InvalidInput) else ()
        return json_response(status, shape(status, odp_message(error), problems))
    logger.exception("request failed")
    status = HTTPStatus.INTERNAL_SERVER_ERROR
    return json_response(status, shape(status, "internal error: retrying the same request is safe", ()))


def install_error_handlers(app: APIGatewayRestResolver, shapes: dict[str, ErrorBody]) -> None:
    """Answer every error in ODP's shape for the path's API family."""

    @app.exception_handler(Exception)
    def failed(error: Exception) -> Response:
        return error_response(app, error, shapes)
