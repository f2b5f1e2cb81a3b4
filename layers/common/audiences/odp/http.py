"""The one place that turns outcomes and domain errors into ODP's HTTP response shapes.

ODP answers with a different error body per API family; each handler installs the shapes of
the families it serves, chosen by path prefix.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from audiences import edge
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
    Reason,
    Unprocessable,
    UnsupportedMediaType,
    row_of,
)

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
    if error.reason is Reason.NOT_FOUND:
        return f"segment {facts.get('key', facts.get('id'))!r} does not exist"
    if error.reason is Reason.KEY_TAKEN:
        return f"segment {facts['key']!r} already exists"
    if error.reason is Reason.EXTERNAL_ID_TAKEN:
        return f"external_audience_id {facts['external_id']!r} is already used by segment {facts['holder']!r}"
    return error.message


ErrorBody = Callable[[HTTPStatus, str, tuple[Problem, ...]], dict]


def timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def accepted() -> Response:
    """ODP's answer once every event of an upload is durably applied."""
    return edge.json_response(HTTPStatus.ACCEPTED, {"title": "Accepted", "status": 202, "timestamp": timestamp()})


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
    return edge.json_text(app, max_bytes, hint or "no valid request of this API is that large")


def authenticate(app: APIGatewayRestResolver, required: Scope) -> Principal:
    """The caller, from ODP's x-api-key header."""
    return edge.authenticated(app.current_event.headers.get("x-api-key"), required)


def error_response(app: APIGatewayRestResolver, error: Exception, shapes: dict[str, ErrorBody]) -> Response:
    """The answer to `error` in the shape of the API family the path belongs to (longest prefix wins)."""
    path = app.current_event.path
    shape = shapes[max((p for p in shapes if path.startswith(p)), key=len)]

    def refused(error: AudiencesError) -> Response:
        if isinstance(error, Forbidden):  # API Gateway's own answer to a bad key: says nothing of why
            return edge.json_response(HTTPStatus.FORBIDDEN, {"message": "Forbidden"})
        status = status_of(error)
        problems = error.problems if isinstance(error, InvalidInput) else ()
        return edge.json_response(status, shape(status, odp_message(error), problems))

    return edge.error_response(
        error, refused, lambda: edge.json_response(edge.INTERNAL, shape(edge.INTERNAL, edge.RETRY_IS_SAFE, ()))
    )


def install_error_handlers(app: APIGatewayRestResolver, shapes: dict[str, ErrorBody]) -> None:
    """Answer every error in ODP's shape for the path's API family."""

    @app.exception_handler(Exception)
    def failed(error: Exception) -> Response:
        return error_response(app, error, shapes)
