"""Adobe Experience Platform's external audiences: request bodies, the audience and the operation.

What only this dialect reads (its sandbox, fields, sourceSpec, labels…) is kept as JSON text in
the audience's `dialect_attributes["adobe"]`; the core keeps the TTL and the claims that make a
name and a `customAudienceId` unique within a sandbox.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from audiences.domain import AUDIENCE_KEY, Audience, key_from_name
from audiences.errors import InvalidInput, Problem, Reason, Unprocessable
from audiences.json_bodies import json_object, refuse, unknown_fields

DIALECT = "adobe"
SANDBOX = re.compile(r"[a-z0-9-]{1,64}")
MAX_NAME_CHARS = 255
MAX_DESCRIPTION_CHARS = 1024  # the catalog's rule
MAX_FIELDS = 41
MAX_LABELS = 20  # ours: an audience stays far below DynamoDB's 400 KB item
MAX_LABEL_CHARS = 128
MAX_TEXT_CHARS = 1024  # field names, sourceSpec values, customAudienceId
FIELD_TYPES = ("string", "number", "long", "integer", "date", "datetime", "boolean")
SOURCE_TYPES = ("file", "folder")
SOURCE_SPEC_KEYS = ("path", "type", "sourceType", "cloudType", "baseConnectionId", "encryption")
DEFAULT_TTL_DAYS, MAX_TTL_DAYS = 30, 90
ORIGIN = "CUSTOM_UPLOAD"
DEFAULT_NAMESPACE = "CustomerAudienceUpload"
_CREATE_FIELDS = {
    "name",
    "description",
    "customAudienceId",
    "fields",
    "sourceSpec",
    "ttlInDays",
    "audienceType",
    "originName",
    "namespace",
    "labels",
    "tags",
}
_PATCH_FIELDS = {"description", "labels", "fields", "ttlInDays"}


@dataclass(frozen=True)
class Definition:
    """What this dialect keeps of an audience beyond the core's attributes."""

    sandbox: str
    fields: list[dict]
    source_spec: dict
    source_spec_nested: bool  # sent as {"params": {...}}: the operation echoes it so
    labels: list[str]
    tags: list[str]
    audience_type: str
    origin_name: str
    namespace: str
    custom_audience_id: str | None

    @classmethod
    def of(cls, audience: Audience) -> Definition | None:
        text = audience.dialect_attributes.get(DIALECT)
        return cls(**json.loads(text)) if text else None

    def attributes(self) -> dict[str, str]:
        return {DIALECT: json.dumps(self.__dict__, ensure_ascii=False, separators=(",", ":"))}

    @property
    def identity_field(self) -> dict:
        return next(field for field in self.fields if "identityNs" in field)


def name_claim(sandbox: str, name: str) -> str:
    return f"adobe/{sandbox}/name/{name}"


def custom_id_claim(sandbox: str, custom_audience_id: str) -> str:
    return f"adobe/{sandbox}/customAudienceId/{custom_audience_id}"


def checked_sandbox(name: str) -> str:
    if not SANDBOX.fullmatch(name):
        raise InvalidInput(
            "x-sandbox-name must be 1 to 64 characters of a-z, 0-9 and -",
            (Problem("x-sandbox-name", "must be 1 to 64 characters of a-z, 0-9 and -"),),
        )
    return name


def _text(document: dict, field: str, problems: list[Problem], limit: int, required: bool = False) -> str | None:
    value = document.get(field)
    if value is None:
        if required:
            problems.append(Problem(field, "is required"))
        return None
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        problems.append(Problem(field, f"must be a string of 1 to {limit} characters"))
        return None
    return value


def _labels(value: object, where: str, problems: list[Problem]) -> list[str]:
    if value is None:
        return []
    if (
        not isinstance(value, list)
        or len(value) > MAX_LABELS
        or not all(isinstance(label, str) and 0 < len(label) <= MAX_LABEL_CHARS for label in value)
    ):
        problems.append(
            Problem(where, f"must be a list of at most {MAX_LABELS} strings of 1 to {MAX_LABEL_CHARS} characters")
        )
        return []
    return value


def _ttl(value: object, problems: list[Problem]) -> int:
    """An integer or a numeric string, 1 to 90, as Adobe's own examples send it ("40")."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TTL_DAYS:
        problems.append(Problem("ttlInDays", f"must be a whole number of days from 1 to {MAX_TTL_DAYS}"))
        return DEFAULT_TTL_DAYS
    return value


def _fields(value: object, problems: list[Problem]) -> list[dict]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_FIELDS:
        problems.append(Problem("fields", f"must be a list of 1 to {MAX_FIELDS} fields"))
        return []
    fields, names = [], set()
    for index, field in enumerate(value):
        where = f"fields[{index}]"
        if not isinstance(field, dict):
            problems.append(Problem(where, "must be an object with name and type"))
            continue
        unknown_fields(field, {"name", "type", "identityNs", "labels"}, problems, where)
        name = field.get("name")
        if not isinstance(name, str) or not 0 < len(name) <= MAX_TEXT_CHARS or "," in name:
            problems.append(Problem(f"{where}.name", f"must be 1 to {MAX_TEXT_CHARS} characters, without a comma"))
        elif name in names:
            problems.append(Problem(f"{where}.name", f"{name!r} names another field too"))
        else:
            names.add(name)
        if field.get("type") not in FIELD_TYPES:
            problems.append(Problem(f"{where}.type", f"must be one of {', '.join(FIELD_TYPES)}"))
        kept = {"name": name, "type": field.get("type")}
        if "identityNs" in field:
            if not isinstance(field["identityNs"], str) or not field["identityNs"]:
                problems.append(Problem(f"{where}.identityNs", "must be a namespace name, such as email"))
            kept["identityNs"] = field["identityNs"]
        if "labels" in field:
            kept["labels"] = _labels(field["labels"], f"{where}.labels", problems)
        fields.append(kept)
    identities = [field for field in fields if "identityNs" in field]
    if len(identities) != 1:
        problems.append(Problem("fields", f"exactly one field must have identityNs; {len(identities)} do"))
    return fields


def _source_spec(value: object, problems: list[Problem]) -> tuple[dict, bool]:
    """Either {"params": {...}} or the same keys flat; Adobe's docs show both."""
    nested = isinstance(value, dict) and set(value) == {"params"}
    spec = value["params"] if nested else value
    where = "sourceSpec.params" if nested else "sourceSpec"
    if not isinstance(spec, dict):
        problems.append(Problem(where, "must be an object with path and type"))
        return {}, nested
    unknown_fields(spec, set(SOURCE_SPEC_KEYS), problems, where)
    path = spec.get("path")
    if not isinstance(path, str) or not 0 < len(path) <= MAX_TEXT_CHARS or re.search(r"\s", path):
        problems.append(Problem(f"{where}.path", f"is required: 1 to {MAX_TEXT_CHARS} characters without spaces"))
    if spec.get("type") not in SOURCE_TYPES:
        problems.append(Problem(f"{where}.type", f"is required: one of {', '.join(SOURCE_TYPES)}"))
    for key in SOURCE_SPEC_KEYS[2:]:
        if key in spec and (not isinstance(spec[key], str) or len(spec[key]) > MAX_TEXT_CHARS):
            problems.append(Problem(f"{where}.{key}", f"must be a string of at most {MAX_TEXT_CHARS} characters"))
    return {key: spec[key] for key in SOURCE_SPEC_KEYS if key in spec}, nested


def _identity(fields: list[dict], identifiers: list[str]) -> None:
    """identityNs names one of the tenant's high-confidence identifiers, case-insensitively."""
    namespaces = [field["identityNs"] for field in fields if isinstance(field.get("identityNs"), str)]
    for namespace in namespaces:
        if namespace.lower() not in identifiers:
            raise Unprocessable(
                f"identityNs {namespace!r} is not an identifier users can be named by here; "
                f"use one of: {', '.join(identifiers) or '(none: the operator adds identifiers)'}",
                "identity namespace",
                Reason.UNKNOWN,
                {"namespace": namespace},
            )


def parse_create(body: str | None, sandbox: str, identifiers: list[str]) -> tuple[Audience, Definition]:
    """The audience to create (its key still to be chosen: see key_candidates) and what Adobe echoes."""
    document = json_object(body)
    problems: list[Problem] = []
    unknown_fields(document, _CREATE_FIELDS, problems)
    name = _text(document, "name", problems, MAX_NAME_CHARS, required=True)
    description = document.get("description", "")
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_CHARS:
        problems.append(Problem("description", f"must be a string of at most {MAX_DESCRIPTION_CHARS} characters"))
    custom_id = _text(document, "customAudienceId", problems, MAX_TEXT_CHARS)
    fields = _fields(document.get("fields"), problems)
    if "sourceSpec" not in document:
        problems.append(Problem("sourceSpec", "is required: {path, type}"))
    source_spec, nested = _source_spec(document.get("sourceSpec", {}), problems)
    ttl = _ttl(document.get("ttlInDays", DEFAULT_TTL_DAYS), problems)
    if document.get("audienceType", "people") != "people":
        problems.append(Problem("audienceType", "must be people, the only type of external audience"))
    if document.get("originName") != ORIGIN:
        problems.append(Problem("originName", f"is required and must be {ORIGIN}"))
    namespace = _text(document, "namespace", problems, MAX_TEXT_CHARS) or DEFAULT_NAMESPACE
    labels = _labels(document.get("labels"), "labels", problems)
    tags = _labels(document.get("tags"), "tags", problems)
    refuse(problems)
    _identity(fields, identifiers)
    definition = Definition(
        sandbox=sandbox,
        fields=fields,
        source_spec=source_spec,
        source_spec_nested=nested,
        labels=labels,
        tags=tags,
        audience_type="people",
        origin_name=ORIGIN,
        namespace=namespace,
        custom_audience_id=custom_id,
    )
    claims = {name_claim(sandbox, name)} | ({custom_id_claim(sandbox, custom_id)} if custom_id else set())
    audience = Audience(
        key="",
        external_id="",
        name=name,
        description=description,
        dialect_attributes=definition.attributes(),
        claims=frozenset(claims),
        ttl_days=ttl,
        origin=DIALECT,
    )
    return audience, definition


def key_candidates(audience: Audience, definition: Definition, suffix: str) -> list[str]:
    """The key is customAudienceId when it is a valid key, else one derived from the name; if another
    audience (of any sandbox or dialect) holds it, the same with a random suffix (ours)."""
    custom = definition.custom_audience_id
    first = custom if custom and AUDIENCE_KEY.fullmatch(custom) else key_from_name(audience.name)
    return [first, f"{first[: 64 - len(suffix) - 1]}_{suffix}"]


@dataclass(frozen=True)
class Patch:
    """What a PATCH replaces: description, labels, the labels of named fields, ttlInDays."""

    fields: Mapping[str, object]

    def __call__(self, current: Audience) -> Audience:
        definition = Definition.of(current)
        changed = current
        if "description" in self.fields:
            changed = replace(changed, description=self.fields["description"])
        if "ttlInDays" in self.fields:
            changed = replace(changed, ttl_days=self.fields["ttlInDays"])
        if "labels" in self.fields:
            definition = replace(definition, labels=self.fields["labels"])
        if "fields" in self.fields:
            relabelled = self.fields["fields"]
            unknown = sorted(set(relabelled) - {field["name"] for field in definition.fields})
            if unknown:
                raise InvalidInput(
                    f"fields {', '.join(map(repr, unknown))} are not fields of this audience",
                    tuple(Problem("fields", f"{name!r} is not a field of this audience") for name in unknown),
                )
            fields = [_relabelled(field, relabelled.get(field["name"])) for field in definition.fields]
            definition = replace(definition, fields=fields)
        return replace(changed, dialect_attributes=current.dialect_attributes | definition.attributes())


def _relabelled(field: dict, labels: list[str] | None) -> dict:
    if labels is None:
        return field
    kept = {key: value for key, value in field.items() if key != "labels"}
    return kept | ({"labels": labels} if labels else {})


def parse_patch(body: str | None) -> Patch:
    document = json_object(body)
    problems: list[Problem] = []
    unknown_fields(document, _PATCH_FIELDS, problems)
    if not set(document) & _PATCH_FIELDS:
        problems.append(Problem("body", f"must name at least one of {', '.join(sorted(_PATCH_FIELDS))}"))
    fields: dict[str, object] = {}
    if "description" in document:
        if not isinstance(document["description"], str) or len(document["description"]) > MAX_DESCRIPTION_CHARS:
            problems.append(Problem("description", f"must be a string of at most {MAX_DESCRIPTION_CHARS} characters"))
        fields["description"] = document["description"]
    if "labels" in document:
        fields["labels"] = _labels(document["labels"], "labels", problems)
    if "ttlInDays" in document:
        fields["ttlInDays"] = _ttl(document["ttlInDays"], problems)
    if "fields" in document:
        fields["fields"] = _field_labels(document["fields"], problems)
    refuse(problems)
    return Patch(fields)


def _field_labels(value: object, problems: list[Problem]) -> dict[str, list[str]]:
    """A PATCH's fields: [{name, labels}], replacing the labels of the fields it names."""
    if not isinstance(value, list) or not value:
        problems.append(Problem("fields", "must be a non-empty list of {name, labels}"))
        return {}
    relabelled: dict[str, list[str]] = {}
    for index, field in enumerate(value):
        where = f"fields[{index}]"
        if not isinstance(field, dict) or not isinstance(field.get("name"), str):
            problems.append(Problem(where, "must be an object with the field's name and its labels"))
            continue
        unknown_fields(field, {"name", "type", "identityNs", "labels"}, problems, where)
        relabelled[field["name"]] = _labels(field.get("labels", []), f"{where}.labels", problems)
    return relabelled


_FILE_NAME = re.compile(r"[A-Za-z0-9._-]{1,255}")


def identity_columns(audiences: list[Audience]) -> set[tuple[str, str]]:
    """The identity columns of the tenant's source files: each Adobe audience's identity field (a header name)
    and the identifier field its namespace is, which a privacy request finds a subject's rows by."""
    definitions = filter(None, map(Definition.of, audiences))
    return {(d.identity_field["name"], d.identity_field["identityNs"].lower()) for d in definitions}


def source_root(definition: Definition) -> str:
    """The audience's sourceSpec.path in its sandbox's area: the file, or the folder, a run reads."""
    return f"{DIALECT}/{definition.sandbox}/{definition.source_spec['path'].strip('/')}"


def source_path(definition: Definition, body: str | None) -> str:
    """Where the file an upload-url request names goes: sourceSpec.path itself for a `file`, and
    `<path>/<fileName>` for a `folder`, in the sandbox's area (ours)."""
    document = json_object(body) if body and body.strip() else {}
    problems: list[Problem] = []
    unknown_fields(document, {"fileName"}, problems)
    file_name = document.get("fileName")
    path = definition.source_spec["path"].strip("/")
    if file_name is not None and (not isinstance(file_name, str) or not _FILE_NAME.fullmatch(file_name)):
        problems.append(Problem("fileName", "must be 1 to 255 characters of A-Z, a-z, 0-9, '.', '_' and '-'"))
    elif file_name in (".", ".."):
        problems.append(Problem("fileName", "must name a file, not . or .."))
    elif definition.source_spec["type"] == "folder" and file_name is None:
        problems.append(Problem("fileName", "is required: sourceSpec is a folder, and the file goes into it"))
    elif definition.source_spec["type"] == "file" and file_name not in (None, path.rsplit("/", 1)[-1]):
        problems.append(
            Problem("fileName", f"must be left out or be {path.rsplit('/', 1)[-1]!r}: sourceSpec is that file")
        )
    refuse(problems)
    root = source_root(definition)
    return f"{root}/{file_name}" if definition.source_spec["type"] == "folder" else root
