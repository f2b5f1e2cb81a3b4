"""ODP's schema identifiers API: identifier bodies in, field definitions out."""

from __future__ import annotations

from audiences import tenants
from audiences.domain import IDENTIFIER_FIELD, Confidence, Identifier
from audiences.errors import Conflict, InvalidInput, Problem
from audiences.json_bodies import decode_json

# ODP's rule for custom identifier names, and the display-name ending each one implies.
IDENTIFIER_SUFFIXES = {
    "_id": " ID",
    "_hash": " Hash",
    "_number": " Number",
    "_token": " Token",
    "_alias": " Alias",
    "_address": " Address",
    "_key": " Key",
}

MAX_DISPLAY_NAME_CHARS = 128
_FIELDS = ("name", "display_name", "merge_confidence", "messaging", "public_read")


def parse_identifier(body: str | None) -> Identifier:
    document = decode_json(body)
    if not isinstance(document, dict):
        raise InvalidInput("the body must be a JSON object: " + ", ".join(_FIELDS))
    problems = [Problem(field, "unknown field") for field in sorted(set(document) - set(_FIELDS))]
    name = document.get("name")
    suffix = next((s for s in IDENTIFIER_SUFFIXES if isinstance(name, str) and name.endswith(s)), None)
    if not isinstance(name, str) or not IDENTIFIER_FIELD.fullmatch(name) or suffix is None:
        problems.append(
            Problem("name", f"must be lower-case a-z, 0-9 and _, ending in one of {', '.join(IDENTIFIER_SUFFIXES)}")
        )
    display_name = document.get("display_name")
    if not isinstance(display_name, str) or not 0 < len(display_name) <= MAX_DISPLAY_NAME_CHARS:
        problems.append(Problem("display_name", f"must be a string of 1 to {MAX_DISPLAY_NAME_CHARS} characters"))
    elif suffix and not display_name.endswith(IDENTIFIER_SUFFIXES[suffix]):
        problems.append(
            Problem("display_name", f"must end with {IDENTIFIER_SUFFIXES[suffix]!r}, as the name ends in {suffix!r}")
        )
    if document.get("merge_confidence") not in ("high", "low"):
        problems.append(Problem("merge_confidence", "must be 'high' or 'low'"))
    for flag in ("messaging", "public_read"):
        if not isinstance(document.get(flag, False), bool):
            problems.append(Problem(flag, "must be true or false"))
    if problems:
        raise InvalidInput("invalid identifier", tuple(problems))
    return Identifier(
        name=name,
        merge_confidence=Confidence(document["merge_confidence"]),
        display_name=display_name,
        messaging=document.get("messaging", False),
        public_read=document.get("public_read", False),
    )


def create_identifier(tenant_id: str, identifier: Identifier) -> dict:
    """Add the identifier; ODP answers a duplicate with a 400 naming the customers field."""
    try:
        tenants.add_identifier(tenant_id, identifier)
    except Conflict as error:
        problem = Problem("customers.name", "already used by another object")
        raise InvalidInput(f"identifier {identifier.name!r} already exists", (problem,)) from error
    return created_body(identifier)


def created_body(identifier: Identifier) -> dict:
    """ODP's 201: the fields the identifier added to the events and customers objects."""
    return {
        "events": [
            {
                "name": f"event_{identifier.name}",
                "display_name": f"Event {identifier.display_name}",
                "type": "identifier",
            }
        ],
        "customers": [
            {"name": identifier.name, "display_name": f"Last Seen {identifier.display_name}", "type": "identifier"}
        ],
    }


def listed_body(identifiers: list[Identifier]) -> dict:
    return {
        "identifiers": [
            {
                "name": identifier.name,
                "display_name": identifier.display_name,
                "merge_confidence": identifier.merge_confidence.value,
                "messaging": identifier.messaging,
                "public_read": identifier.public_read,
            }
            for identifier in sorted(identifiers, key=lambda i: i.name)
        ]
    }
