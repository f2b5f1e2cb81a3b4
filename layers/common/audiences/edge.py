"""The HTTP edge every dialect shares: who calls (a key, from wherever the dialect says it is), the JSON
body once past the transport checks, and the frame of every error answer: a refusal is logged as one
(its status and class, never the request), anything else with its stack and answered as a retryable
500. Each dialect keeps only its status table, its words and its shapes."""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types

from audiences import auth
from audiences.domain import Principal, Scope
from audiences.errors import AudiencesError
from audiences.json_bodies import body_text, check_json_transport

logger = Logger(child=True)


def bearer_token(app: APIGatewayRestResolver) -> str | None:
    """The token of `Authorization: Bearer <token>`, or None without one."""
    scheme, _, token = (app.current_event.headers.get("authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def authenticated(raw_key: str | None, required: Scope) -> Principal:
    """The caller of `raw_key` (Forbidden if none may ask this); every later log line names its tenant."""
    principal = auth.authenticate(raw_key, required)
    logger.append_keys(tenant=principal.tenant_id)
    return principal


def json_text(app: APIGatewayRestResolver, max_bytes: int, hint: str) -> str | None:
    """The body as text once it passed the transport checks: JSON media type (415), size (413), UTF-8."""
    request = app.current_event
    text = body_text(request.body, request.is_base64_encoded)
    check_json_transport(request.headers.get("content-type"), text, max_bytes, hint)
    return text


def json_response(status: int, body: object, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body), headers=headers
    )


def error_response(
    error: Exception, refused: Callable[[AudiencesError], Response], failed: Callable[[], Response]
) -> Response:
    """`refused(error)` for a domain error (logged as a refusal), else `failed()` (logged with its stack)."""
    if isinstance(error, AudiencesError):
        response = refused(error)
        logger.info("request rejected", extra={"status": int(response.status_code), "error": type(error).__name__})
        return response
    logger.exception("request failed")
    return failed()


INTERNAL = HTTPStatus.INTERNAL_SERVER_ERROR
RETRY_IS_SAFE = "internal error: retrying the same request is safe"
