"""Tenants and their identifier fields."""

from __future__ import annotations

from audiences.domain import Identifier
from audiences.errors import NotFound
from audiences.stores import tenants as tenant_store


def add_identifier(tenant_id: str, identifier: Identifier) -> None:
    """Conflict if the tenant already has a field of that name; events may use it once caches expire."""
    tenant_store.add_identifier(tenant_id, identifier)


def identifiers(tenant_id: str) -> list[Identifier]:
    tenant = tenant_store.get_tenant(tenant_id)
    if tenant is None:
        raise NotFound(f"tenant {tenant_id!r} does not exist")
    return list(tenant.identifiers.values())
