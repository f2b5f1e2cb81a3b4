"""Tenants, their identifier fields, and their hashed API keys in the tenants table."""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from audiences.domain import Confidence, Identifier, IdentityMap, Principal, Scope, Tenant
from audiences.errors import Conflict, NotFound
from audiences.ports.tenants import KeyInfo, key_id_of
from audiences.stores import clients
from audiences.stores.conditions import condition_failed, failed_conditions
from audiences.stores.models import ApiKeyItem, ApiKeyListing, TenantItem

_CONFIG = "CONFIG"


def _tenant_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


def _key_pk(key_hash: str) -> str:
    return f"KEY#{key_hash}"


def _identifier(name: str, stored: dict) -> Identifier:
    return Identifier(
        name=name,
        merge_confidence=Confidence(stored["merge_confidence"]),
        display_name=stored.get("display_name", ""),
        messaging=bool(stored.get("messaging", False)),
        public_read=bool(stored.get("public_read", False)),
    )


def _stored(identifier: Identifier) -> dict:
    return {
        "merge_confidence": identifier.merge_confidence.value,
        "display_name": identifier.display_name,
        "messaging": identifier.messaging,
        "public_read": identifier.public_read,
    }


def _identity_map(stored: dict | None) -> IdentityMap:
    if stored is None:
        return IdentityMap()
    return IdentityMap(stored["user_id"], tuple((trait, field) for trait, field in stored["traits"]))


def _tenant(item: TenantItem) -> Tenant:
    tenant_id = item.pk.removeprefix("TENANT#")
    identifiers = {name: _identifier(name, stored) for name, stored in item.identifiers.as_dict().items()}
    identity_map = _identity_map(item.identity_map.as_dict() if item.identity_map is not None else None)
    return Tenant(tenant_id, identifiers, int(item.revision), identity_map)


def get_tenant(tenant_id: str) -> Tenant | None:
    try:
        return _tenant(TenantItem.get(_tenant_pk(tenant_id), _CONFIG))
    except TenantItem.DoesNotExist:
        return None


def list_tenants() -> list[Tenant]:
    """Every tenant: a Scan, for operators only (tenants are few; nothing on a request path calls it)."""
    return sorted((_tenant(item) for item in TenantItem.scan(TenantItem.sk == _CONFIG)), key=lambda t: t.tenant_id)


def create_tenant(tenant: Tenant) -> None:
    item = TenantItem(
        _tenant_pk(tenant.tenant_id),
        _CONFIG,
        identifiers={name: _stored(identifier) for name, identifier in tenant.identifiers.items()},
        identity_map=_stored_identity_map(tenant.identity_map),
        revision=tenant.revision,
        created_at=datetime.now(UTC),
    )
    try:
        item.save(condition=TenantItem.pk.does_not_exist())
    except PutError as error:
        if condition_failed(error):
            raise Conflict(f"tenant {tenant.tenant_id!r} already exists") from error
        raise


def add_identifier(tenant_id: str, identifier: Identifier) -> None:
    """Add an identifier field; Conflict if the tenant has it, NotFound if there is no tenant."""
    item = TenantItem(_tenant_pk(tenant_id), _CONFIG)
    try:
        item.update(
            actions=[
                TenantItem.identifiers[identifier.name].set(_stored(identifier)),
                TenantItem.revision.add(1),
            ],
            condition=TenantItem.pk.exists() & TenantItem.identifiers[identifier.name].does_not_exist(),
        )
    except UpdateError as error:
        if not condition_failed(error):
            raise
        if get_tenant(tenant_id) is None:
            raise NotFound(f"tenant {tenant_id!r} does not exist") from error
        raise Conflict(f"identifier {identifier.name!r} already exists") from error


def _stored_identity_map(identity_map: IdentityMap) -> dict:
    return {"user_id": identity_map.user_id, "traits": [list(pair) for pair in identity_map.traits]}


def set_identity_map(tenant_id: str, identity_map: IdentityMap) -> None:
    """Replace the tenant's identity map; NotFound if there is no tenant."""
    stored = _stored_identity_map(identity_map)
    item = TenantItem(_tenant_pk(tenant_id), _CONFIG)
    try:
        item.update(
            actions=[TenantItem.identity_map.set(stored), TenantItem.revision.add(1)],
            condition=TenantItem.pk.exists(),
        )
    except UpdateError as error:
        if condition_failed(error):
            raise NotFound(f"tenant {tenant_id!r} does not exist") from error
        raise


def get_principal(key_hash: str) -> Principal | None:
    try:
        item = ApiKeyItem.get(_key_pk(key_hash), "KEY")
    except ApiKeyItem.DoesNotExist:
        return None
    return Principal(tenant_id=item.tenant_id, scope=Scope(item.scope), key_id=key_id_of(key_hash))


def put_key(key_hash: str, principal: Principal) -> None:
    """Store a key's hash and its listing under the tenant, in one transaction."""
    now = datetime.now(UTC)
    try:
        _write_key(key_hash, key_id_of(key_hash), principal, now)
    except TransactWriteError as error:
        if failed_conditions(error)[:1] == [True]:  # the tenant check, the transaction's first item
            raise NotFound(f"tenant {principal.tenant_id!r} does not exist") from error
        raise


def _write_key(key_hash: str, key_id: str, principal: Principal, now: datetime) -> None:
    with TransactWrite(connection=clients.dynamodb()) as transaction:
        transaction.condition_check(TenantItem, _tenant_pk(principal.tenant_id), _CONFIG, TenantItem.pk.exists())
        transaction.save(
            ApiKeyItem(
                _key_pk(key_hash), "KEY", tenant_id=principal.tenant_id, scope=principal.scope.value, created_at=now
            ),
            condition=ApiKeyItem.pk.does_not_exist(),
        )
        transaction.save(
            ApiKeyListing(
                _tenant_pk(principal.tenant_id),
                f"KEY#{key_id}",
                key_hash=key_hash,
                scope=principal.scope.value,
                created_at=now,
            ),
            condition=ApiKeyListing.pk.does_not_exist(),
        )


def list_keys(tenant_id: str) -> list[KeyInfo]:
    return [
        KeyInfo(item.sk.removeprefix("KEY#"), Scope(item.scope), item.created_at)
        for item in ApiKeyListing.query(_tenant_pk(tenant_id), ApiKeyListing.sk.startswith("KEY#"))
    ]


def revoke_key(tenant_id: str, key_id: str) -> None:
    """Delete the key and its listing together; NotFound unless the tenant has that key."""
    try:
        listing = ApiKeyListing.get(_tenant_pk(tenant_id), f"KEY#{key_id}", consistent_read=True)
    except ApiKeyListing.DoesNotExist as error:
        raise NotFound(f"tenant {tenant_id!r} has no key {key_id!r}") from error
    try:
        with TransactWrite(connection=clients.dynamodb()) as transaction:
            transaction.delete(listing, condition=ApiKeyListing.pk.exists())
            transaction.delete(
                ApiKeyItem(_key_pk(listing.key_hash), "KEY"), condition=ApiKeyItem.tenant_id == tenant_id
            )
    except TransactWriteError as error:
        if error.cause_response_code == "TransactionCanceledException":
            raise NotFound(f"tenant {tenant_id!r} has no key {key_id!r}") from error
        raise
