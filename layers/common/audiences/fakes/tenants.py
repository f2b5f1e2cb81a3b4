"""Tenants and hashed API keys in memory."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime

from audiences.domain import Identifier, IdentityMap, Principal, Tenant
from audiences.errors import Conflict, NotFound
from audiences.ports.tenants import KeyInfo, key_id_of


class InMemoryTenants:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tenants: dict[str, Tenant] = {}
        self._keys: dict[str, tuple[Principal, datetime]] = {}  # key hash -> principal, created at

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        with self._lock:
            return self._tenants.get(tenant_id)

    def list_tenants(self) -> list[Tenant]:
        with self._lock:
            return sorted(self._tenants.values(), key=lambda tenant: tenant.tenant_id)

    def create_tenant(self, tenant: Tenant) -> None:
        with self._lock:
            if tenant.tenant_id in self._tenants:
                raise Conflict(f"tenant {tenant.tenant_id!r} already exists")
            self._tenants[tenant.tenant_id] = tenant

    def _existing(self, tenant_id: str) -> Tenant:
        if (tenant := self._tenants.get(tenant_id)) is None:
            raise NotFound(f"tenant {tenant_id!r} does not exist")
        return tenant

    def add_identifier(self, tenant_id: str, identifier: Identifier) -> None:
        with self._lock:
            tenant = self._existing(tenant_id)
            if identifier.name in tenant.identifiers:
                raise Conflict(f"identifier {identifier.name!r} already exists")
            identifiers = {**tenant.identifiers, identifier.name: identifier}
            self._tenants[tenant_id] = replace(tenant, identifiers=identifiers, revision=tenant.revision + 1)

    def set_identity_map(self, tenant_id: str, identity_map: IdentityMap) -> None:
        with self._lock:
            tenant = self._existing(tenant_id)
            self._tenants[tenant_id] = replace(tenant, identity_map=identity_map, revision=tenant.revision + 1)

    def get_principal(self, key_hash: str) -> Principal | None:
        with self._lock:
            found = self._keys.get(key_hash)
        return replace(found[0], key_id=key_id_of(key_hash)) if found else None

    def put_key(self, key_hash: str, principal: Principal) -> None:
        with self._lock:
            self._existing(principal.tenant_id)
            if key_hash in self._keys:
                raise Conflict("the key is already stored")
            self._keys[key_hash] = (principal, datetime.now(UTC))

    def list_keys(self, tenant_id: str) -> list[KeyInfo]:
        with self._lock:
            keys = [(key_id_of(h), p.scope, at) for h, (p, at) in self._keys.items() if p.tenant_id == tenant_id]
        return [KeyInfo(*key) for key in sorted(keys, key=lambda key: key[0])]

    def revoke_key(self, tenant_id: str, key_id: str) -> None:
        with self._lock:
            held = [h for h, (p, _) in self._keys.items() if p.tenant_id == tenant_id and key_id_of(h) == key_id]
            if not held:
                raise NotFound(f"tenant {tenant_id!r} has no key {key_id!r}")
            del self._keys[held[0]]
