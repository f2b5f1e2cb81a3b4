"""Segment's Public API audiences: request bodies, the audience object, pagination and cursors."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from audiences.catalog import Order, Page, is_position, position
from audiences.domain import AUDIENCE_KEY, Audience, key_from_name
from audiences.errors import InvalidInput, Problem
from audiences.json_bodies import json_object, refuse, unknown_fields

DIALECT = "segment"  # the key of Segment's attributes (its `definition`) in the catalog
MAX_NAME_CHARS = 255
MAX_DESCRIPTION_CHARS = 1024  # the catalog's rule, as ODP's segments API has it
MAX_DEFINITION_BYTES = 64 * 1024  # a DynamoDB item holds 400 KB; a definition is a query of a few KB
MAX_PATH_PARAM_CHARS = 255
DEFAULT_COUNT = MAX_COUNT = 200
_CREATE_FIELDS = {"name", "description", "enabled", "definition", "key", "options"}
_PATCH_FIELDS = {"enabled", "name", "description", "definition"}


def checked_path_param(name: str, value: str) -> str:
    if not 0 < len(value) <= MAX_PATH_PARAM_CHARS:
        raise InvalidInput(
            f"{name} must be 1 to {MAX_PATH_PARAM_CHARS} characters",
            (Problem(name, f"must be 1 to {MAX_PATH_PARAM_CHARS} characters"),),
        )
    return value


def _name(value: object, problems: list[Problem]) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_NAME_CHARS:
        problems.append(Problem("name", f"must be a string of 1 to {MAX_NAME_CHARS} characters"))
        return ""
    return value


def _description(value: object, problems: list[Problem]) -> str:
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION_CHARS:
        problems.append(Problem("description", f"must be a string of at most {MAX_DESCRIPTION_CHARS} characters"))
        return ""
    return value


def _enabled(value: object, problems: list[Problem]) -> bool:
    if not isinstance(value, bool):
        problems.append(Problem("enabled", "must be true or false"))
        return True
    return value


def _definition(value: object, problems: list[Problem]) -> dict[str, str]:
    """Stored verbatim as JSON text, never evaluated: membership comes from events and imports."""
    if value is not None and not isinstance(value, dict):
        problems.append(Problem("definition", "must be an object or null"))
        return {}
    if value is None:
        return {}
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if len(text.encode()) > MAX_DEFINITION_BYTES:
        problems.append(Problem("definition", f"must be at most {MAX_DEFINITION_BYTES} bytes as JSON"))
        return {}
    return {DIALECT: text}


def parse_create(body: str | None) -> Audience:
    document = json_object(body)
    problems: list[Problem] = []
    unknown_fields(document, _CREATE_FIELDS, problems)
    if "name" not in document:
        problems.append(Problem("name", "is required"))
    name = _name(document.get("name"), problems) if "name" in document else ""
    description = _description(document.get("description", ""), problems)
    enabled = _enabled(document.get("enabled", True), problems)
    definition = _definition(document.get("definition"), problems)
    key = document.get("key", key_from_name(name) if name else "")
    if ("key" in document or name) and (not isinstance(key, str) or not AUDIENCE_KEY.fullmatch(key)):
        problems.append(Problem("key", "must be 1 to 64 characters of a-z, 0-9 and _"))
    refuse(problems)
    return Audience(
        key=key,
        external_id=key,
        name=name,
        description=description,
        enabled=enabled,
        dialect_attributes=definition,
        origin=DIALECT,
    )


@dataclass(frozen=True)
class Patch:
    """The fields a PATCH names; the rest of the audience stays as it is."""

    fields: Mapping[str, object]

    def __call__(self, current: Audience) -> Audience:
        changed = replace(current, **{k: v for k, v in self.fields.items() if k != "definition"})
        if "definition" in self.fields:
            attributes = {k: v for k, v in current.dialect_attributes.items() if k != DIALECT}
            changed = replace(changed, dialect_attributes=attributes | self.fields["definition"])
        return changed


def parse_patch(body: str | None) -> Patch:
    document = json_object(body)
    problems: list[Problem] = []
    unknown_fields(document, _PATCH_FIELDS, problems)
    if not set(document) & _PATCH_FIELDS:
        problems.append(Problem("body", f"must name at least one of {', '.join(sorted(_PATCH_FIELDS))}"))
    readers = {"name": _name, "description": _description, "enabled": _enabled, "definition": _definition}
    fields = {field: readers[field](document[field], problems) for field in _PATCH_FIELDS if field in document}
    refuse(problems)
    return Patch(fields)


def _timestamp(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z") if moment else None


def audience_object(audience: Audience, space_id: str, size: int) -> dict:
    definition = audience.dialect_attributes.get(DIALECT)
    return {
        "id": audience.audience_id,
        "spaceId": space_id,
        "name": audience.display_name,
        "key": audience.key,
        "description": audience.description,
        "enabled": audience.enabled,
        "definition": json.loads(definition) if definition else None,
        "status": "Live" if audience.enabled else "Disabled",
        "audienceType": "USERS",
        "computeCadence": {"type": "BATCH"},
        "size": {"count": size, "type": "USERS"},
        "createdBy": audience.created_by or "unknown",
        "updatedBy": audience.updated_by or audience.created_by or "unknown",
        "createdAt": _timestamp(audience.created_at),
        "updatedAt": _timestamp(audience.updated_at),
    }


# --- pagination -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageRequest:
    count: int
    after: str | None = None  # the page starts after this position
    before: str | None = None  # the page ends before this position
    cursor: str | None = None  # as the client sent it


def pagination_params(query: Mapping[str, str]) -> dict[str, str]:
    """`pagination` from any of the three encodings: dot, deepObject brackets, or JSON."""
    found: dict[str, str] = {}
    for name, value in query.items():
        for field in ("count", "cursor"):
            if name in (f"pagination.{field}", f"pagination[{field}]"):
                found[field] = value
    if "pagination" in query:
        try:
            document = json.loads(query["pagination"])
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise InvalidInput(
                "pagination must be a JSON object",
                (Problem("pagination", 'must be a JSON object such as {"count": 10}'),),
            )
        found.update({field: document[field] for field in ("count", "cursor") if field in document})
    return found


def parse_page_request(query: Mapping[str, str], tenant_id: str) -> PageRequest:
    params = pagination_params(query)
    count = params.get("count", DEFAULT_COUNT)
    if isinstance(count, str) and count.isdigit():
        count = int(count)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise InvalidInput(
            f"pagination.count must be a whole number from 1 to {MAX_COUNT}",
            (Problem("pagination.count", f"must be a whole number from 1 to {MAX_COUNT}, got {count!r}"),),
        )
    cursor = params.get("cursor")
    if cursor is None or cursor == "":
        return PageRequest(count)
    direction, where = decoded_cursor(cursor, tenant_id)
    return PageRequest(count, cursor=cursor, **{direction: where or None})


def _checksum(tenant_id: str, payload: bytes) -> str:
    # Tamper-checked, not secret: a cursor only positions a listing of the caller's own audiences
    # (the tenant comes from the key, which can list them all), so a forged one reaches nothing
    # more; the payload is validated whole whatever the checksum says (docs/api.md, "Cursors").
    return hmac.new(f"segment-cursor:{tenant_id}".encode(), payload, hashlib.sha256).hexdigest()[:16]


def cursor(direction: str, where: str, tenant_id: str) -> str:
    payload = json.dumps([direction, where], separators=(",", ":")).encode()
    encoded = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{encoded}.{_checksum(tenant_id, payload)}"


_DIRECTIONS = ("after", "before")
ORDER = Order.CREATION  # Segment lists oldest first, ties by id


def decoded_cursor(text: object, tenant_id: str, accepts: Callable[[str], bool] | None = None) -> tuple[str, str]:
    """(direction, position) of a cursor this API made for this tenant; InvalidInput for anything else. A
    listing of other things than audiences says which positions it `accepts` (then only `after` ones)."""
    bad = InvalidInput(
        "pagination.cursor is not a cursor this API returned",
        (Problem("pagination.cursor", "is not a cursor this API returned: use `next` or `previous` as given"),),
    )
    if not isinstance(text, str) or "." not in text:
        raise bad
    encoded, _, checksum = text.rpartition(".")
    try:
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        raise bad from None
    if not hmac.compare_digest(checksum.encode(), _checksum(tenant_id, payload).encode()):
        raise bad
    try:
        decoded = json.loads(payload)
    except ValueError:  # not UTF-8, or not JSON
        raise bad from None
    match decoded:
        case ["after", str(where)] if accepts is not None and accepts(where):
            return "after", where
        case [str(direction), str(where)] if (
            accepts is None
            and direction in _DIRECTIONS
            and ((direction, where) == ("after", "") or is_position(where, ORDER))
        ):
            return direction, where
    raise bad


def pagination(request: PageRequest, page: Page, tenant_id: str, total: int) -> dict:
    """Segment's output `pagination`: current always, next and previous where there is one."""
    audiences = page.audiences
    forward = request.before is None
    more_after = page.more if forward else True  # read backwards from an audience: it lies after
    more_before = request.after is not None if forward else page.more
    result: dict = {"current": request.cursor or cursor("after", "", tenant_id), "totalEntries": total}
    if audiences and more_after:
        result["next"] = cursor("after", position(audiences[-1], ORDER), tenant_id)
    if audiences and more_before:
        result["previous"] = cursor("before", position(audiences[0], ORDER), tenant_id)
    return result
