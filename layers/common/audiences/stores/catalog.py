"""Audiences, their id and external-id claims, and their count, in the catalog table.

Key, id and external id are unique per tenant by conditional writes in one transaction, never
by read-then-write; the tenant's audience count changes in the same transaction, so it is
exact. Listings are pages of one Query each, in key order (the table) or creation order (the
ByCreation index).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from audiences.domain import Audience
from audiences.errors import audience_key_taken, claim_taken, external_id_taken
from audiences.ports.catalog import Order, Page, RevisionRaced, created_key, key_of_position, key_position
from audiences.stores import clients
from audiences.stores.conditions import failed_conditions
from audiences.stores.models import AudienceCount, AudienceIdClaim, AudienceItem, Claim, ExternalIdClaim

_AUDIENCE = key_position("")  # the start of every audience's sort key
_COUNT = "COUNT"
_EXPIRING = "EXPIRING"


def _claim_sk(external_id: str) -> str:
    return f"EXTERNAL#{external_id}"


def _id_sk(audience_id: str) -> str:
    return f"ID#{audience_id}"


def _named_claim_sk(claim: str) -> str:
    return f"CLAIM#{claim}"


def _to_audience(item: AudienceItem) -> Audience:
    return Audience(
        key=key_of_position(item.sk),
        external_id=item.external_id,
        description=item.description,
        metadata=item.metadata.as_dict(),
        revision=int(item.revision),
        enabled=item.enabled,
        created_at=item.created_at,
        updated_at=item.updated_at,
        audience_id=item.audience_id,
        name=item.name,
        created_by=item.created_by,
        updated_by=item.updated_by,
        dialect_attributes=item.dialect_attributes.as_dict(),
        claims=frozenset(item.claims or ()),
        ttl_days=None if item.ttl_days is None else int(item.ttl_days),
        origin=item.origin,
    )


def _failed(error: TransactWriteError, deletes=(), puts=(), updates=()) -> set[str]:
    """The labels of the items whose condition failed; RevisionRaced if DynamoDB saw a concurrent transaction.

    Labels are given per kind because PynamoDB sends a transaction's deletes, then its puts,
    then its updates, whatever order they were added in; DynamoDB reports reasons in that order.
    """
    if error.cause_response_code != "TransactionCanceledException":
        raise error
    if any(reason and reason.code == "TransactionConflict" for reason in error.cancellation_reasons or []):
        raise RevisionRaced() from error
    labels = [*deletes, *puts, *updates]
    return {label for label, failed in zip(labels, failed_conditions(error), strict=True) if failed}


def _labels(claims: list[str]) -> list[str]:
    return [f"claim {claim}" for claim in claims]


def get_audience(tenant_id: str, key: str) -> Audience | None:
    try:
        return _to_audience(AudienceItem.get(tenant_id, key_position(key), consistent_read=True))
    except AudienceItem.DoesNotExist:
        return None


def get_audience_by_id(tenant_id: str, audience_id: str) -> Audience | None:
    """Two GetItems: the id's claim names the key, the key the audience."""
    try:
        claim = AudienceIdClaim.get(tenant_id, _id_sk(audience_id), consistent_read=True)
    except AudienceIdClaim.DoesNotExist:
        return None
    audience = get_audience(tenant_id, claim.audience_key)
    return audience if audience and audience.audience_id == audience_id else None


def count_audiences(tenant_id: str) -> int:
    try:
        return int(AudienceCount.get(tenant_id, _COUNT).audiences)
    except AudienceCount.DoesNotExist:
        return 0


def _start_key(tenant_id: str, order: Order, where: str) -> dict:
    if order is Order.KEY:
        return {"pk": {"S": tenant_id}, "sk": {"S": where}}
    created_key, sk = where.split("|", 1)
    return {"pk": {"S": tenant_id}, "sk": {"S": sk}, "created_key": {"S": created_key}}


def page(
    tenant_id: str,
    order: Order,
    limit: int,
    after: str | None = None,
    before: str | None = None,
    *,
    enabled_only: bool = False,
) -> Page:
    """At most `limit` audiences after the position `after` (or before `before`): one Query of limit + 1.

    The extra item only says whether more lie beyond, so the last page never points at an
    empty one. With `enabled_only`, DynamoDB filters after it reads, so a page that read
    disabled audiences is topped up by a further Query.
    """
    forward = before is None
    start = after if forward else before
    reading = {
        "limit": limit + 1,
        "page_size": limit + 1,
        "last_evaluated_key": _start_key(tenant_id, order, start) if start else None,
        "scan_index_forward": forward,
        "filter_condition": (AudienceItem.enabled == True) if enabled_only else None,  # noqa: E712 (a condition)
    }
    if order is Order.KEY:
        items = AudienceItem.query(tenant_id, AudienceItem.sk.startswith(_AUDIENCE), **reading)
    else:
        items = AudienceItem.by_creation.query(tenant_id, **reading)
    found = [_to_audience(item) for item in items]
    audiences = found[:limit] if forward else found[:limit][::-1]
    return Page(audiences, more=len(found) > limit)


def expiring_audiences() -> Iterator[tuple[str, Audience]]:
    """Every audience with a TTL, of every tenant, with its tenant: one index, however large the catalog."""
    for item in AudienceItem.expiring_index.query(_EXPIRING):
        yield item.pk, _to_audience(item)


def list_audiences(tenant_id: str) -> list[Audience]:
    """Every audience of a tenant, in key order: for what needs all of them (the customer path's copy)."""
    return list(_all(tenant_id))


def _all(tenant_id: str) -> Iterator[Audience]:
    for item in AudienceItem.query(tenant_id, AudienceItem.sk.startswith(_AUDIENCE)):
        yield _to_audience(item)


def audiences_by_external_id(tenant_id: str, external_ids: set[str]) -> dict[str, Audience]:
    """The audiences holding these external ids: a BatchGetItem of the claims, then of the audiences."""
    claims = ExternalIdClaim.batch_get([(tenant_id, _claim_sk(external_id)) for external_id in external_ids])
    keys = [(tenant_id, key_position(claim.audience_key)) for claim in claims]
    audiences = (_to_audience(item) for item in AudienceItem.batch_get(keys)) if keys else ()
    return {audience.external_id: audience for audience in audiences if audience.external_id in external_ids}


def audiences_by_key(tenant_id: str, keys: set[str]) -> list[Audience]:
    """The audiences with these keys (at most 100): one BatchGetItem."""
    return [_to_audience(item) for item in AudienceItem.batch_get([(tenant_id, key_position(key)) for key in keys])]


def _claim_holder(tenant_id: str, external_id: str) -> str:
    try:
        return ExternalIdClaim.get(tenant_id, _claim_sk(external_id), consistent_read=True).audience_key
    except ExternalIdClaim.DoesNotExist:
        return "another audience"


def create_audience(tenant_id: str, audience: Audience, actor: str) -> Audience:
    """Store a new audience with a new id; KeyTaken/external-id Conflict if either is held."""
    now = datetime.now(UTC)
    created = replace(
        audience, audience_id=str(uuid.uuid4()), created_at=now, updated_at=now, created_by=actor, updated_by=actor
    )
    try:
        with TransactWrite(connection=clients.dynamodb()) as transaction:
            transaction.save(
                AudienceItem(
                    tenant_id,
                    key_position(created.key),
                    audience_id=created.audience_id,
                    external_id=created.external_id,
                    description=created.description,
                    metadata=created.metadata,
                    revision=created.revision,
                    enabled=created.enabled,
                    created_at=now,
                    updated_at=now,
                    name=created.name,
                    created_by=actor,
                    updated_by=actor,
                    dialect_attributes=created.dialect_attributes,
                    claims=set(created.claims) or None,
                    ttl_days=created.ttl_days,
                    origin=created.origin,
                    expiring=_EXPIRING if created.ttl_days else None,
                    created_key=created_key(now, created.audience_id),
                ),
                condition=AudienceItem.pk.does_not_exist(),
            )
            transaction.save(
                ExternalIdClaim(tenant_id, _claim_sk(created.external_id), audience_key=created.key),
                condition=ExternalIdClaim.pk.does_not_exist(),
            )
            transaction.save(
                AudienceIdClaim(tenant_id, _id_sk(created.audience_id), audience_key=created.key),
                condition=AudienceIdClaim.pk.does_not_exist(),
            )
            transaction.update(AudienceCount(tenant_id, _COUNT), actions=[AudienceCount.audiences.add(1)])
            claims = sorted(created.claims)
            for claim in claims:
                transaction.save(
                    Claim(tenant_id, _named_claim_sk(claim), audience_key=created.key),
                    condition=Claim.pk.does_not_exist(),
                )
    except TransactWriteError as error:
        failed = _failed(error, puts=["audience", "external_id", "id", *_labels(claims)], updates=["count"])
        if "audience" in failed:
            raise audience_key_taken(created.key) from error
        if "external_id" in failed:
            raise external_id_taken(created.external_id, _claim_holder(tenant_id, created.external_id)) from error
        for claim, label in zip(claims, _labels(claims), strict=True):
            if label in failed:
                raise claim_taken(claim) from error
        raise
    return created


def update_audience(tenant_id: str, current: Audience, wanted: Audience, actor: str) -> Audience:
    """Replace `current` (as read) with `wanted` and return what is stored; RevisionRaced if it changed since."""
    now = datetime.now(UTC)
    item = AudienceItem(tenant_id, key_position(current.key))
    moves_external_id = wanted.external_id != current.external_id
    dropped_claims, new_claims = sorted(current.claims - wanted.claims), sorted(wanted.claims - current.claims)
    try:
        with TransactWrite(connection=clients.dynamodb()) as transaction:
            transaction.update(
                item,
                actions=[
                    AudienceItem.external_id.set(wanted.external_id),
                    AudienceItem.description.set(wanted.description),
                    AudienceItem.metadata.set(wanted.metadata),
                    AudienceItem.enabled.set(wanted.enabled),
                    AudienceItem.name.set(wanted.name),
                    AudienceItem.dialect_attributes.set(wanted.dialect_attributes),
                    AudienceItem.claims.set(set(wanted.claims)) if wanted.claims else AudienceItem.claims.remove(),
                    *(
                        [AudienceItem.ttl_days.set(wanted.ttl_days), AudienceItem.expiring.set(_EXPIRING)]
                        if wanted.ttl_days
                        else [AudienceItem.ttl_days.remove(), AudienceItem.expiring.remove()]
                    ),
                    AudienceItem.revision.set(wanted.revision),
                    AudienceItem.updated_at.set(now),
                    AudienceItem.updated_by.set(actor),
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
            for claim in dropped_claims:
                transaction.delete(
                    Claim(tenant_id, _named_claim_sk(claim)), condition=Claim.audience_key == current.key
                )
            for claim in new_claims:
                transaction.save(
                    Claim(tenant_id, _named_claim_sk(claim), audience_key=current.key),
                    condition=Claim.pk.does_not_exist(),
                )
    except TransactWriteError as error:
        moved = ["external_id"] if moves_external_id else []
        failed = _failed(
            error,
            deletes=[f"old {label}" for label in [*moved, *_labels(dropped_claims)]],
            puts=moved + _labels(new_claims),
            updates=["audience"],
        )
        if "audience" in failed or any(label.startswith("old ") for label in failed):
            raise RevisionRaced(current.key) from error
        if "external_id" in failed:
            raise external_id_taken(wanted.external_id, _claim_holder(tenant_id, wanted.external_id)) from error
        for claim, label in zip(new_claims, _labels(new_claims), strict=True):
            if label in failed:
                raise claim_taken(claim) from error
        raise
    return replace(
        wanted,
        key=current.key,
        audience_id=current.audience_id,
        created_at=current.created_at,
        created_by=current.created_by,
        updated_at=now,
        updated_by=actor,
    )


def delete_audience(tenant_id: str, current: Audience) -> None:
    """Delete `current` (as read) and free its claims; RevisionRaced if it changed since."""
    claims = sorted(current.claims)
    try:
        with TransactWrite(connection=clients.dynamodb()) as transaction:
            transaction.delete(
                AudienceItem(tenant_id, key_position(current.key)), condition=AudienceItem.revision == current.revision
            )
            transaction.delete(
                ExternalIdClaim(tenant_id, _claim_sk(current.external_id)),
                condition=ExternalIdClaim.audience_key == current.key,
            )
            transaction.delete(AudienceIdClaim(tenant_id, _id_sk(current.audience_id)))
            transaction.update(AudienceCount(tenant_id, _COUNT), actions=[AudienceCount.audiences.add(-1)])
            for claim in claims:
                transaction.delete(Claim(tenant_id, _named_claim_sk(claim)))
    except TransactWriteError as error:
        if _failed(error, deletes=["audience", "external_id", "id", *_labels(claims)], updates=["count"]):
            raise RevisionRaced(current.key) from error
        raise


def migrate(tenant_id: str) -> int:
    """Give every audience made before ids were addressable its id claim, creation order and count.

    Each audience migrates in one transaction conditioned on it not being migrated yet, so
    running this twice, or from two places at once, migrates each audience exactly once.
    Returns how many this run migrated.
    """
    migrated = 0
    for item in AudienceItem.query(tenant_id, AudienceItem.sk.startswith(_AUDIENCE)):
        if item.created_key is not None:
            continue
        key = key_of_position(item.sk)
        try:
            with TransactWrite(connection=clients.dynamodb()) as transaction:
                transaction.update(
                    AudienceItem(tenant_id, item.sk),
                    actions=[AudienceItem.created_key.set(created_key(item.created_at, item.audience_id))],
                    condition=AudienceItem.created_key.does_not_exist() & AudienceItem.pk.exists(),
                )
                transaction.save(
                    AudienceIdClaim(tenant_id, _id_sk(item.audience_id), audience_key=key),
                    condition=AudienceIdClaim.pk.does_not_exist(),
                )
                transaction.update(AudienceCount(tenant_id, _COUNT), actions=[AudienceCount.audiences.add(1)])
        except TransactWriteError as error:
            try:
                if _failed(error, puts=["id"], updates=["audience", "count"]):
                    continue  # migrated (or deleted) by someone else meanwhile
            except RevisionRaced:
                continue  # a concurrent writer: a later run finishes it
            raise
        migrated += 1
    return migrated
