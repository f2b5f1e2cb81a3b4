"""The tenant store: tenants, their identifier fields and identity maps, and their API keys (hashes only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from audiences.domain import Identifier, IdentityMap, Principal, Scope, Tenant

KEY_ID_CHARS = 12


def key_id_of(key_hash: str) -> str:
    """The name a key is listed and revoked by: the start of its hash, which reveals nothing."""
    return key_hash[:KEY_ID_CHARS]


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    scope: Scope
    created_at: datetime


class TenantStore(Protocol):
    def get_tenant(self, tenant_id: str) -> Tenant | None: ...

    def list_tenants(self) -> list[Tenant]:
        """Every tenant, by id: for operators only."""
        ...

    def create_tenant(self, tenant: Tenant) -> None:
        """Conflict if the tenant exists."""
        ...

    def add_identifier(self, tenant_id: str, identifier: Identifier) -> None:
        """Add an identifier field and count a revision; Conflict if the tenant has it, NotFound if there is no
        tenant."""
        ...

    def set_identity_map(self, tenant_id: str, identity_map: IdentityMap) -> None:
        """Replace the tenant's identity map and count a revision; NotFound if there is no tenant."""
        ...

    def get_principal(self, key_hash: str) -> Principal | None: ...

    def put_key(self, key_hash: str, principal: Principal) -> None:
        """Store a key's hash and its listing under the tenant together; NotFound if there is no tenant."""
        ...

    def list_keys(self, tenant_id: str) -> list[KeyInfo]:
        """The tenant's keys, by key id."""
        ...

    def revoke_key(self, tenant_id: str, key_id: str) -> None:
        """Delete the key and its listing together; NotFound unless the tenant has that key."""
        ...
