"""The one way every route of every dialect turns a request body into JSON, with the limits it keeps.

A body is refused with a client error (never a 5xx) when it says it is not JSON, is too large,
is not UTF-8, is not JSON, nests deeper than MAX_NESTING, or holds a lone UTF-16 surrogate
(valid JSON escapes like "\\ud800" that no Unicode text can hold: they would fail later, when
the text is encoded for DynamoDB or S3). Each dialect words these errors in its own shape.
"""

from __future__ import annotations

import base64
import binascii
import json
import re

from audiences.errors import InvalidInput, PayloadTooLarge, Problem, UnsupportedMediaType

MAX_NESTING = 32  # arrays and objects inside each other; the deepest body any dialect needs is 4
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_json_transport(
    content_type: str | None,
    body: str | None,
    max_bytes: int,
    shrink_hint: str,
    media_types: tuple[str, ...] = ("application/json",),
) -> None:
    """415 for a body that says it is not JSON (nor another of `media_types`), 413 for one over
    `max_bytes`. No header is fine."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type and media_type not in media_types and not media_type.endswith("+json"):
        raise UnsupportedMediaType(f"Content-Type must be {' or '.join(media_types)}, got {media_type!r}")
    if body is not None and len(body.encode(errors="surrogatepass")) > max_bytes:
        raise PayloadTooLarge(f"the body is larger than {max_bytes} bytes: {shrink_hint}")


def body_text(body: str | None, is_base64_encoded: bool) -> str | None:
    """The body as text; API Gateway hands over bodies that are not UTF-8 base64-encoded."""
    if not (is_base64_encoded and body):
        return body
    try:
        return utf8_text(base64.b64decode(body))
    except binascii.Error as error:
        raise _not_utf8() from error


def utf8_text(data: bytes) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError as error:
        raise _not_utf8() from error


def _not_utf8() -> InvalidInput:
    return InvalidInput("the request body is not UTF-8 text: send UTF-8 encoded JSON")


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def decode_json(body: str | None) -> object:
    if body is None or not body.strip():
        raise InvalidInput("the request body is empty: send a JSON document")
    try:
        document = json.loads(body, parse_constant=_reject_constant)
    except RecursionError:
        raise InvalidInput(_too_deep()) from None
    except ValueError as error:
        raise InvalidInput(f"the request body is not valid JSON: {error}") from error
    _check_tree(document)
    return document


def _too_deep() -> str:
    return f"the request body nests arrays and objects more than {MAX_NESTING} levels deep: flatten it"


def _check_tree(document: object) -> None:
    """Nesting and text of every value, without recursion (a deep document must not exhaust the stack)."""
    stack: list[tuple[object, int, str]] = [(document, 0, "")]
    while stack:
        value, depth, where = stack.pop()
        if isinstance(value, str):
            _check_text(value, where)
        elif isinstance(value, dict | list):
            if depth == MAX_NESTING:
                raise InvalidInput(_too_deep())
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                path = f"{where}[{key}]" if isinstance(key, int) else f"{where}.{key}" if where else str(key)
                if isinstance(key, str):
                    _check_text(key, path)
                stack.append((item, depth + 1, path))


def _check_text(text: str, where: str) -> None:
    if not text.isascii() and _SURROGATE.search(text):
        place = f" at {_SURROGATE.sub('?', where)}" if where else ""
        raise InvalidInput(
            f"the request body holds a lone UTF-16 surrogate (\\ud800-\\udfff without its pair){place}: "
            "send valid Unicode, escaping a character outside the Basic Multilingual Plane as a surrogate pair"
        )


def json_object(body: str | None) -> dict:
    """A body that must be one JSON object, decoded as decode_json does."""
    document = decode_json(body)
    if not isinstance(document, dict):
        raise InvalidInput("the body must be a JSON object", (Problem("body", "must be a JSON object"),))
    return document


def unknown_fields(document: dict, allowed: set[str], problems: list[Problem], where: str = "") -> None:
    """A problem for each field of `document` (at `where`) that is not `allowed`."""
    for field in sorted(set(document) - allowed):
        path = f"{where}.{field}" if where else field
        problems.append(Problem(path, f"is not a field here (allowed: {', '.join(sorted(allowed))})"))


def refuse(problems: list[Problem]) -> None:
    """InvalidInput listing every problem, if there is any."""
    if problems:
        raise InvalidInput(f"{len(problems)} problem(s) with the request", tuple(problems))
