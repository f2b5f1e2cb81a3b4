"""Audiences and their external-id claims in the catalog table.

Key and external id are unique per tenant by conditional writes in one transaction,
never by read-then-write.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from audiences.domain import Audience
from audiences.errors import Conflict
from audiences.stores import clients
from audiences.stores.conditions import failed_conditions
from audiences.stores.models import AudienceItem, ExternalIdClaim


class RevisionRaced(Exception):
    """Another writer changed the audience between our read and our write."""


class KeyTaken(Conflict):
    """An audience with this key already exists."""


def _audience_sk(key: str) -> str:
    return f"AUDIENCE#{key}"


def _claim_sk(external_id: str) -> str:
    return f"EXTERNAL#{external_id}"


def _to_audience(item: AudienceItem) -> Audience:
    return Audience(
        key=item.sk.removeprefix("AUDIENCE#"),
        external_id=item.external_id,
        description=item.description,
        metadata=item.metadata.as_dict(),
        revision=int(item.revision),
        enabled=item.enabled,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def get_audience(tenant_id: str, key: str) -> Audience | None:
    try:
        return _to_audience(AudienceItem.get(tenant_id, _audience_sk(key), consistent_read=True))
    except AudienceItem.DoesNotExist:
        return None


def delete_audience(tenant_id: str, current: Audience) -> None:
    """Delete `current` (as read) and free its external id; RevisionRaced if it changed since."""
    try:
        with TransactWrite(connection=clients.dynamodb()) as transaction:
            transaction.delete(
                AudienceItem(tenant_id, _audience_sk(current.key)), condition=AudienceItem.revision == current.revision
            )
            transaction.delete(
                ExternalIdClaim(tenant_id, _claim_sk(current.external_id)),
                condition=ExternalIdClaim.audience_key == current.key,
            )
    except TransactWriteError as error:
        if error.cause_response_code == "TransactionCanceledException" and failed_conditions(error)[0]:
            raise RevisionRaced(current.key) from error
        raise


def audiences_by_external_id(tenant_id: str, external_ids: set[str]) -> dict[str, Audience]:
    """The audiences holding these external ids: a BatchGetItem of the claims, then of the audiences."""
    claims = ExternalIdClaim.batch_get([(tenant_id, _claim_sk(external_id)) for external_id in external_ids])
    keys = [(tenant_id, _audience_sk(claim.audience_key)) for claim in claims]
    audiences = (_to_audience(item) for item in AudienceItem.batch_get(keys)) if keys else ()
    return {audience.external_id: audience for audience in audiences if audience.external_id in external_ids}


def list_audiences(tenant_id: str) -> list[Audience]:
    """Every audience of a tenant: one Query (paged by DynamoDB past 1 MB)."""
    items = AudienceItem.query(tenant_id, AudienceItem.sk.startswith("AUDIENCE#"))
    return [_to_audience(item) for item in items]


def _claim_holder(tenant_id: str, external_id: str) -> str:
    try:
        return ExternalIdClaim.get(tenant_id, _claim_sk(external_id), consistent_read=True).audience_key
    except ExternalIdClaim.DoesNotExist:
        return "another segment"


def create_audience(tenant_id: str, audience: Audience) -> None:
    now = datetime.now(UTC)
    try:
        with TransactWrite(connection=clients.dynamodb()) as transaction:
            transaction.save(
                AudienceItem(
                    tenant_id,
                    _audience_sk(audience.key),
                    audience_id=str(uuid.uuid4()),
                    external_id=audience.external_id,
                    description=audience.description,
                    metadata=audience.metadata,
                    revision=audience.revision,
                    enabled=audience.enabled,
                    created_at=now,
                    updated_at=now,
                ),
                condition=AudienceItem.pk.does_not_exist(),
            )
            transaction.save(
                ExternalIdClaim(tenant_id, _claim_sk(audience.external_id), audience_key=audience.key),
                condition=ExternalIdClaim.pk.does_not_exist(),
            )
    except TransactWriteError as error:
        if error.cause_response_code != "TransactionCanceledException":
            raise
        key_taken, external_taken = failed_conditions(error)
        if key_taken:
            raise KeyTaken(f"segment {audience.key!r} already exists") from error
        if external_taken:
            holder = _claim_holder(tenant_id, audience.external_id)
            raise Conflict(
                f"external_audience_id {audience.external_id!r} is already used by segment {holder!r}"
            ) from error
        raise


def update_audience(tenant_id: str, current: Audience, wanted: Audience) -> None:
    """Replace `current` (as read) with `wanted`; raises RevisionRaced if it changed since."""
    item = AudienceItem(tenant_id, _audience_sk(current.key))
    moves_external_id = wanted.external_id != current.external_id
    try:
        with TransactWrite(connection=clients.dynamodb()) as transaction:
            transaction.update(
                item,
                actions=[
                    AudienceItem.external_id.set(wanted.external_id),
                    AudienceItem.description.set(wanted.description),
                    AudienceItem.metadata.set(wanted.metadata),
                    AudienceItem.enabled.set(wanted.enabled),
                    AudienceItem.revision.set(wanted.revision),
                    AudienceItem.updated_at.set(datetime.now(UTC)),
                ],
                condition=AudienceItem.revision == current.revision,
            )
            if moves_external_id:
                transaction.delete(
                    ExternalIdClaim(tenant_id, _claim_sk(current.external_id)),
                    condition=ExternalIdClaim.audience_key == current.key,
                )
                transaction.save(
                    ExternalIdClaim(tenant_id, _claim_sk(wanted.external_id), audience_key=current.key),
                    condition=ExternalIdClaim.pk.does_not_exist(),
                )
    except TransactWriteError as error:
        if error.cause_response_code != "TransactionCanceledException":
            raise
        failed = failed_conditions(error)
        if failed[0]:
            raise RevisionRaced(current.key) from error
        if moves_external_id and failed[2]:
            holder = _claim_holder(tenant_id, wanted.external_id)
            raise Conflict(
                f"external_audience_id {wanted.external_id!r} is already used by segment {holder!r}"
            ) from error
        raise
