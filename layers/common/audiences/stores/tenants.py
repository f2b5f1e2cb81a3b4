"""Tenant configuration and hashed API keys in the tenants table."""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.exceptions import PutError

from audiences.domain import Confidence, Principal, Scope, Tenant
from audiences.errors import Conflict
from audiences.stores.models import ApiKeyItem, TenantItem

_CONFIG = "CONFIG"


def _tenant_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


def _key_pk(key_hash: str) -> str:
    return f"KEY#{key_hash}"


def get_tenant(tenant_id: str) -> Tenant | None:
    try:
        item = TenantItem.get(_tenant_pk(tenant_id), _CONFIG)
    except TenantItem.DoesNotExist:
        return None
    identifiers = {name: Confidence(level) for name, level in item.identifiers.as_dict().items()}
    return Tenant(tenant_id=tenant_id, identifiers=identifiers, revision=int(item.revision))


def create_tenant(tenant: Tenant) -> None:
    item = TenantItem(
        _tenant_pk(tenant.tenant_id),
        _CONFIG,
        identifiers={name: level.value for name, level in tenant.identifiers.items()},
        revision=tenant.revision,
        created_at=datetime.now(UTC),
    )
    try:
        item.save(condition=TenantItem.pk.does_not_exist())
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise Conflict(f"tenant {tenant.tenant_id!r} already exists") from error
        raise


def get_principal(key_hash: str) -> Principal | None:
    try:
        item = ApiKeyItem.get(_key_pk(key_hash), "KEY")
    except ApiKeyItem.DoesNotExist:
        return None
    return Principal(tenant_id=item.tenant_id, scope=Scope(item.scope))


def put_key(key_hash: str, principal: Principal) -> None:
    ApiKeyItem(
        _key_pk(key_hash),
        "KEY",
        tenant_id=principal.tenant_id,
        scope=principal.scope.value,
        created_at=datetime.now(UTC),
    ).save(condition=ApiKeyItem.pk.does_not_exist())
