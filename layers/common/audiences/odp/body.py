"""Decoding a JSON request body with errors that say what to fix."""

from __future__ import annotations

import base64
import binascii
import json

from audiences.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def check_json_transport(content_type: str | None, body: str | None, max_bytes: int, shrink_hint: str) -> None:
    """415 for a body that says it is not JSON, 413 for one over `max_bytes`. No header is fine."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type and media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType(f"Content-Type must be application/json, got {media_type!r}")
    if body is not None and len(body.encode()) > max_bytes:
        raise PayloadTooLarge(f"the body is larger than {max_bytes} bytes: {shrink_hint}")


def body_text(body: str | None, is_base64_encoded: bool) -> str | None:
    """The body as text; API Gateway hands over bodies that are not UTF-8 base64-encoded."""
    if not (is_base64_encoded and body):
        return body
    try:
        return base64.b64decode(body).decode()
    except (binascii.Error, UnicodeDecodeError) as error:
        raise InvalidInput("the request body is not UTF-8 text: send UTF-8 encoded JSON") from error


def decode_json(body: str | None) -> object:
    if body is None or not body.strip():
        raise InvalidInput("the request body is empty: send a JSON document")
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except ValueError as error:
        raise InvalidInput(f"the request body is not valid JSON: {error}") from error
