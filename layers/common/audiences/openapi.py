"""What the dialects add to their routes for OpenAPI, which Powertools builds from the routes.

Each dialect parses and checks its own bodies, so that its errors keep the vendor's shape and
words: a request body is described here (with an example a client can send), not validated.
"""

from __future__ import annotations

JSON = "application/json"


def json_body(example: dict | list, description: str, media_type: str = JSON) -> dict:
    """An operation's request body, as `openapi_extensions` of its route."""
    schema = {"type": "array" if isinstance(example, list) else "object"}
    content = {media_type: {"schema": schema, "example": example}}
    return {"requestBody": {"required": True, "description": description, "content": content}}


def query_parameters(*parameters: tuple[str, str, bool]) -> dict:
    """An operation's query parameters (name, description, required), as `openapi_extensions` of its route:
    described, not validated (the dialect checks them, in its own words)."""
    return {
        "parameters": [
            {"name": name, "in": "query", "required": required, "description": text, "schema": {"type": "string"}}
            for name, text, required in parameters
        ]
    }
