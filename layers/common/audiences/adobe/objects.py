"""The JSON objects Adobe's external-audience API answers with: the audience, its creation operation,
and an upload target."""

from __future__ import annotations

from audiences.adobe.audiences import DIALECT, Definition
from audiences.domain import Audience


def upload_target_object(target, path: str, sandbox: str) -> dict:
    """A presigned PUT: `path` as sourceSpec names it; `bucket`/`key` for uploads with AWS credentials (ours)."""
    return {
        "url": target.url,
        "path": path.removeprefix(f"{DIALECT}/{sandbox}/"),
        "expiresAt": _epoch(target.expires_at),
        "key": target.key,
    }


def _epoch(moment) -> int:
    return int(moment.timestamp())


def _authorship(audience: Audience) -> dict:
    return {
        "createdBy": audience.created_by or "unknown",
        "createdAt": _epoch(audience.created_at),
        "updatedBy": audience.updated_by or "unknown",
        "updatedAt": _epoch(audience.updated_at),
    }


def _source_spec_echo(definition: Definition, nested: bool) -> dict:
    return {"params": definition.source_spec} if nested else definition.source_spec


def audience_object(audience: Audience, definition: Definition, size: int) -> dict:
    """Adobe's audience (as its PATCH answers it), plus our `key` and exact `size`."""
    return {
        "audienceId": audience.audience_id,
        "audienceName": audience.display_name,
        "description": audience.description,
        "fields": definition.fields,
        "sourceSpec": definition.source_spec,
        "ttlInDays": audience.ttl_days,
        "labels": definition.labels,
        "tags": definition.tags,
        "audienceType": definition.audience_type,
        "originName": definition.origin_name,
        "namespace": definition.namespace,
        **({"customAudienceId": definition.custom_audience_id} if definition.custom_audience_id else {}),
        "key": audience.key,
        "size": size,
        **_authorship(audience),
    }


def operation_details(audience: Audience, definition: Definition) -> dict:
    """The create request as accepted: ttlInDays an integer, sourceSpec in the form it came."""
    return {
        "name": audience.display_name,
        "description": audience.description,
        **({"customAudienceId": definition.custom_audience_id} if definition.custom_audience_id else {}),
        "fields": definition.fields,
        "sourceSpec": _source_spec_echo(definition, definition.source_spec_nested),
        "ttlInDays": audience.ttl_days,
        "labels": definition.labels,
        "tags": definition.tags,
        "audienceType": definition.audience_type,
        "originName": definition.origin_name,
        "namespace": definition.namespace,
    }


def operation_object(audience: Audience, definition: Definition) -> dict:
    """The creation of `audience`: its operation id is the audience id (ours), and it has succeeded."""
    return {
        "operationId": audience.audience_id,
        "status": "SUCCESS",
        "operationDetails": operation_details(audience, definition),
        "audienceName": audience.display_name,
        "audienceId": audience.audience_id,
        **_authorship(audience),
    }
