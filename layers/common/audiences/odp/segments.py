"""ODP segment bodies -> audiences."""

from __future__ import annotations

from audiences.domain import AUDIENCE_KEY, Audience
from audiences.errors import InvalidInput
from audiences.odp.body import decode_json

MAX_DESCRIPTION_CHARS = 1024
MAX_METADATA_ENTRIES = 50
MAX_METADATA_KEY_CHARS = 128
MAX_METADATA_VALUE_CHARS = 1024
MAX_EXTERNAL_ID_BYTES = 1024
_FIELDS = {"definition", "description", "metadata"}


def checked_segment_id(segment_id: str) -> str:
    if not AUDIENCE_KEY.fullmatch(segment_id):
        raise InvalidInput(f"segment id {segment_id!r} is invalid: use 1 to 64 characters of a-z, 0-9 and _")
    return segment_id


def parse_segment(segment_id: str, body: str | None) -> Audience:
    key = checked_segment_id(segment_id)
    document = decode_json(body)
    if not isinstance(document, dict):
        raise InvalidInput("the body must be a JSON object with definition, description and metadata")
    unknown = sorted(set(document) - _FIELDS)
    if unknown:
        raise InvalidInput(f"unknown field(s) {', '.join(unknown)}: a segment has {', '.join(sorted(_FIELDS))}")
    return Audience(
        key=key,
        external_id=_external_id(document.get("definition"), key),
        description=_description(document.get("description", "")),
        metadata=_metadata(document.get("metadata", {})),
    )


def _external_id(definition: object, key: str) -> str:
    if not isinstance(definition, dict) or set(definition) != {"external"}:
        raise InvalidInput(
            'definition must be {"external": {"external_audience_id": "..."}}: '
            "only external (passthrough) segments are supported"
        )
    external = definition["external"]
    if not isinstance(external, dict):
        raise InvalidInput("definition.external must be an object")
    external_id = external.get("external_audience_id", key)
    if not isinstance(external_id, str) or not external_id:
        raise InvalidInput("definition.external.external_audience_id must be a non-empty string")
    if len(external_id.encode()) > MAX_EXTERNAL_ID_BYTES:
        raise InvalidInput(f"definition.external.external_audience_id is longer than {MAX_EXTERNAL_ID_BYTES} bytes")
    return external_id


def _description(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput("description must be a string")
    if len(value) > MAX_DESCRIPTION_CHARS:
        raise InvalidInput(f"description is longer than {MAX_DESCRIPTION_CHARS} characters")
    return value


def _metadata(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidInput("metadata must be an object of string values")
    if len(value) > MAX_METADATA_ENTRIES:
        raise InvalidInput(f"metadata holds at most {MAX_METADATA_ENTRIES} entries")
    for name, text in value.items():
        if not name or len(name) > MAX_METADATA_KEY_CHARS:
            raise InvalidInput(f"metadata keys must be 1 to {MAX_METADATA_KEY_CHARS} characters")
        if len(text) > MAX_METADATA_VALUE_CHARS:
            raise InvalidInput(f"metadata value of {name!r} is longer than {MAX_METADATA_VALUE_CHARS} characters")
    return value
