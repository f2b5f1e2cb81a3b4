"""The console API's HTTP edge: the private key, and errors as `{"error": {"status", "message"}}`."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types

from audiences import edge
from audiences.domain import Principal, Scope
from audiences.errors import (
    AudiencesError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unprocessable,
    UnsupportedMediaType,
    row_of,
)

SECURITY_SCHEMES = {
    "consoleKey": {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": "The tenant's private key (the console keeps it in the tab's session storage).",
    }
}
SECURITY = [{"consoleKey": []}]

# Each error class of audiences.errors has its own row (a test checks); the base row makes it total.
_STATUS: dict[type[AudiencesError], HTTPStatus] = {
    AudiencesError: HTTPStatus.BAD_REQUEST,
    Forbidden: HTTPStatus.UNAUTHORIZED,
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


def authenticate(app: APIGatewayRestResolver) -> Principal:
    return edge.authenticated(app.current_event.headers.get("x-api-key"), Scope.PRIVATE)


def error(status: HTTPStatus, message: str) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"error": {"status": int(status), "message": message}},
    )


def error_response(failure: Exception) -> Response:
    return edge.error_response(
        failure, _refused, lambda: error(edge.INTERNAL, "internal error: the logs have its request id")
    )


def _refused(failure: AudiencesError) -> Response:
    if isinstance(failure, Forbidden):
        return error(HTTPStatus.UNAUTHORIZED, "the key is not a private key of any tenant: sign in with a private key")
    return error(status_of(failure), failure.message)
