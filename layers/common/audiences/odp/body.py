"""Decoding a JSON request body with errors that say what to fix."""

from __future__ import annotations

import json

from audiences.errors import InvalidInput


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def decode_json(body: str | None) -> object:
    if body is None or not body.strip():
        raise InvalidInput("the request body is empty: send a JSON document")
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except ValueError as error:
        raise InvalidInput(f"the request body is not valid JSON: {error}") from error
