"""The Tracking API's HTTP edge: the write key, the body, and answers in Segment's shape.

Success is `200 {"success": true}`; an error is `{"success": false, "code", "message"}` (the
fields Segment's libraries read), with `errors: [{"index", "message"}]` naming each invalid call
of a batch. Segment answers 400 to a body over its size limits, and so does this.
"""

from __future__ import annotations

import base64
import binascii
import zlib
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
    Unprocessable,
    UnsupportedMediaType,
    row_of,
)
from audiences.json_bodies import check_json_transport, json_object, utf8_text
from audiences.segment.tracking import CALL_TYPES, MAX_BATCH_BYTES, MAX_CALL_BYTES

PREFIX = "/v1/"
ENDPOINTS = (*CALL_TYPES, "batch", "import")
# analytics.js sends text/plain, which needs no CORS preflight; the server libraries application/json.
MEDIA_TYPES = ("application/json", "text/plain")
_GZIP_MAGIC = b"\x1f\x8b"
CALL_LIMIT = (MAX_CALL_BYTES, "send less data with the call")
BATCH_LIMIT = (MAX_BATCH_BYTES, "send fewer calls per batch")
# OpenAPI: the write key is the Basic user name (or `writeKey` in the body).
SECURITY_SCHEMES = {
    "segmentWriteKey": {
        "type": "http",
        "scheme": "basic",
        "description": "The write key (the tenant's public key) as user name, no password.",
    }
}
SECURITY = [{"segmentWriteKey": []}]

# Each error class of audiences.errors has its own row (a test checks); the base row makes it total.
_STATUS: dict[type[AudiencesError], tuple[HTTPStatus, str]] = {
    AudiencesError: (HTTPStatus.BAD_REQUEST, "invalid_request"),
    Forbidden: (HTTPStatus.UNAUTHORIZED, "unauthorized"),
    InvalidInput: (HTTPStatus.BAD_REQUEST, "invalid_request"),
    PayloadTooLarge: (HTTPStatus.BAD_REQUEST, "payload_too_large"),
    UnsupportedMediaType: (HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
    NotFound: (HTTPStatus.NOT_FOUND, "not_found"),
    Conflict: (HTTPStatus.CONFLICT, "conflict"),
    Unprocessable: (HTTPStatus.BAD_REQUEST, "invalid_request"),
    RateLimited: (HTTPStatus.TOO_MANY_REQUESTS, "rate_limited"),
}


def status_of(error: AudiencesError) -> tuple[HTTPStatus, str]:
    return row_of(_STATUS, error)


def _basic_write_key(app: APIGatewayRestResolver) -> str | None:
    """The user name of `Authorization: Basic base64(<write key>:)`, or None without Basic auth."""
    scheme, _, credentials = (app.current_event.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        return base64.b64decode(credentials.strip(), validate=True).decode().partition(":")[0]
    except (binascii.Error, UnicodeDecodeError):
        raise Forbidden() from None


def caller_and_body(app: APIGatewayRestResolver, batch: bool) -> tuple[Principal, dict, str]:
    """Who calls, the body's JSON object, and the body as text (its archive upload is named by it).

    A write key by Basic auth is checked before the body is decoded; without one the body's
    `writeKey` names the caller, so a body that is not a JSON object names no one: 401.
    """
    write_key = _basic_write_key(app)
    body = _body_text(app, *(BATCH_LIMIT if batch else CALL_LIMIT))
    if write_key is None:
        try:
            document = json_object(body)
        except InvalidInput:
            raise Forbidden() from None
        write_key = document.get("writeKey")
        principal = _authenticate(write_key if isinstance(write_key, str) else None)
    else:
        principal = _authenticate(write_key)
        document = json_object(body)
    return principal, document, body


def _authenticate(write_key: str | None) -> Principal:
    """The caller of the write key (a public key, or a private one)."""
    return edge.authenticated(write_key, Scope.PUBLIC)


def _body_text(app: APIGatewayRestResolver, max_bytes: int, shrink_hint: str) -> str:
    """The body as text: gunzipped if it came compressed, within `max_bytes` once uncompressed."""
    request = app.current_event
    body = request.body or ""
    if request.is_base64_encoded and body:
        data = base64.b64decode(body)  # API Gateway's own encoding of a body that is not UTF-8
        if data.startswith(_GZIP_MAGIC):
            data = _gunzipped(data, max_bytes, shrink_hint)
        body = utf8_text(data)
    check_json_transport(request.headers.get("content-type"), body, max_bytes, shrink_hint, MEDIA_TYPES)
    return body


def _gunzipped(data: bytes, max_bytes: int, shrink_hint: str) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    invalid = InvalidInput("the body starts as gzip but is not valid gzip: send it whole, or uncompressed")
    try:
        text = inflater.decompress(data, max_bytes + 1)  # no further: a small body may inflate to gigabytes
    except zlib.error:
        raise invalid from None
    if len(text) <= max_bytes and not inflater.eof:  # the stream was cut short
        raise invalid
    if len(text) > max_bytes:
        raise PayloadTooLarge(f"the body is larger than {max_bytes} bytes uncompressed: {shrink_hint}")
    return text


def success(anonymous: list[Problem]) -> Response:
    body: dict = {"success": True}
    if anonymous:
        body["warnings"] = [{"index": problem.where, "message": problem.message} for problem in anonymous]
    return edge.json_response(HTTPStatus.OK, body)


def unknown_path(path: str) -> NotFound:
    endpoints = ", ".join(PREFIX + endpoint for endpoint in ENDPOINTS)
    return NotFound(f"no such endpoint: {path}. The Tracking API is {endpoints}")


def error_response(error: Exception) -> Response:
    server = {"success": False, "code": "server_error", "message": edge.RETRY_IS_SAFE}
    return edge.error_response(error, _refused, lambda: edge.json_response(edge.INTERNAL, server))


def _refused(error: AudiencesError) -> Response:
    status, code = status_of(error)
    body: dict = {"success": False, "code": code, "message": _message(error)}
    if isinstance(error, InvalidInput) and error.problems:
        body["errors"] = [{"index": problem.where, "message": problem.message} for problem in error.problems]
    headers = {"WWW-Authenticate": 'Basic realm="Segment"'} if isinstance(error, Forbidden) else {}
    return edge.json_response(status, body, headers)


def _message(error: AudiencesError) -> str:
    if isinstance(error, Forbidden):
        return (
            "Unauthorized: send this service's public key as the write key, by HTTP Basic auth "
            "(the key as user name, no password) or as writeKey in the body"
        )
    if isinstance(error, InvalidInput) and len(error.problems) == 1:
        return f"{error.message}: {error.problems[0].message}"
    return error.message
