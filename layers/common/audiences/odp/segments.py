"""ODP segment bodies -> audiences, and audiences -> ODP segment bodies."""

from __future__ import annotations

from dataclasses import replace

from audiences.domain import AUDIENCE_KEY, Audience, control_character_problem
from audiences.errors import InvalidInput, Problem
from audiences.json_bodies import decode_json

MAX_SEGMENT_ID_CHARS = 64
MAX_DESCRIPTION_CHARS = 1024
MAX_METADATA_ENTRIES = 50
MAX_METADATA_KEY_CHARS = 128
MAX_METADATA_VALUE_CHARS = 1024
MAX_EXTERNAL_ID_BYTES = 1024
_FIELDS = ("definition", "description", "metadata")
VALIDATE_SUFFIX = ":validate"


def checked_segment_id(segment_id: str) -> str:
    if not AUDIENCE_KEY.fullmatch(segment_id):
        raise InvalidInput(
            f"segment id {segment_id!r} is invalid: use 1 to {MAX_SEGMENT_ID_CHARS} characters of a-z, 0-9 and _"
        )
    return segment_id


def parse_segment(segment_id: str, body: str | None) -> Audience:
    """The audience a segment body describes, or InvalidInput with every problem found."""
    key = checked_segment_id(segment_id)
    document = decode_json(body)
    if not isinstance(document, dict):
        raise InvalidInput("the body must be a JSON object with definition, description and metadata")
    problems: list[Problem] = []

    def check(field: str, parse, default):
        try:
            return parse(document[field]) if field in document else default
        except ValueError as error:
            problems.append(Problem(field, str(error)))
            return default

    unknown = sorted(set(document) - set(_FIELDS))
    if unknown:
        problems.append(Problem(", ".join(unknown), f"unknown field: a segment has {', '.join(_FIELDS)}"))
    if "definition" not in document:
        problems.append(Problem("definition", 'is required: {"external": {"external_audience_id": "..."}}'))
    audience = Audience(
        key=key,
        external_id=check("definition", lambda value: _external_id(value, key), key),
        description=check("description", _description, ""),
        metadata=check("metadata", _metadata, {}),
        origin="odp",
    )
    if problems:
        summary = "; ".join(f"{problem.where}: {problem.message}" for problem in problems)
        raise InvalidInput(f"invalid segment: {summary}", tuple(problems))
    return audience


def keeping_unsaid(current: Audience, wanted: Audience) -> Audience:
    """What ODP's PUT cannot say (a name, another dialect's attributes and claims, a TTL, the origin) stays as it is."""
    return replace(
        wanted,
        name=current.name,
        dialect_attributes=current.dialect_attributes,
        claims=current.claims,
        ttl_days=current.ttl_days,
        origin=current.origin,
    )


def segment_body(audience: Audience, size: int) -> dict:
    """ODP's segment representation, plus our read-only extras: size and timestamps."""
    return {
        "revision": audience.revision,
        "description": audience.description,
        "metadata": audience.metadata,
        "definition": {"external": {"external_audience_id": audience.external_id}},
        "size": size,
        "created_at": audience.created_at.isoformat() if audience.created_at else None,
        "updated_at": audience.updated_at.isoformat() if audience.updated_at else None,
    }


def _external_id(definition: object, key: str) -> str:
    if not isinstance(definition, dict) or set(definition) != {"external"}:
        raise ValueError(
            'must be {"external": {"external_audience_id": "..."}}: only external (passthrough) segments are supported'
        )
    external = definition["external"]
    if not isinstance(external, dict):
        raise ValueError("external must be an object")
    external_id = external.get("external_audience_id", key)
    if not isinstance(external_id, str) or not external_id:
        raise ValueError("external.external_audience_id must be a non-empty string")
    if len(external_id.encode()) > MAX_EXTERNAL_ID_BYTES:
        raise ValueError(f"external.external_audience_id is longer than {MAX_EXTERNAL_ID_BYTES} bytes")
    if problem := control_character_problem(external_id):  # events could never name it
        raise ValueError(f"external.external_audience_id {problem}")
    return external_id


def _description(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if len(value) > MAX_DESCRIPTION_CHARS:
        raise ValueError(f"is longer than {MAX_DESCRIPTION_CHARS} characters")
    return value


def _metadata(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError("must be an object of string values")
    if len(value) > MAX_METADATA_ENTRIES:
        raise ValueError(f"holds at most {MAX_METADATA_ENTRIES} entries")
    for name, text in value.items():
        if not name or len(name) > MAX_METADATA_KEY_CHARS:
            raise ValueError(f"keys must be 1 to {MAX_METADATA_KEY_CHARS} characters")
        if len(text) > MAX_METADATA_VALUE_CHARS:
            raise ValueError(f"value of {name!r} is longer than {MAX_METADATA_VALUE_CHARS} characters")
    return value
