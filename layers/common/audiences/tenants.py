"""Tenants, their identifier fields, and which field a source's user id and traits stand for."""

from __future__ import annotations

from audiences.domain import Identifier, IdentityMap
from audiences.errors import InvalidInput, NotFound
from audiences.wiring import stores

MAX_TRAIT_CHARS = 128


def add_identifier(tenant_id: str, identifier: Identifier) -> None:
    """Conflict if the tenant already has a field of that name; events may use it once caches expire."""
    stores().tenants.add_identifier(tenant_id, identifier)


def identifiers(tenant_id: str) -> list[Identifier]:
    tenant = stores().tenants.get_tenant(tenant_id)
    if tenant is None:
        raise NotFound(f"tenant {tenant_id!r} does not exist")
    return list(tenant.identifiers.values())


def set_identity_map(tenant_id: str, identity_map: IdentityMap) -> None:
    """InvalidInput unless every field it names can key memberships; in use once caches expire."""
    tenant = stores().tenants.get_tenant(tenant_id)
    if tenant is None:
        raise NotFound(f"tenant {tenant_id!r} does not exist")
    problems = [
        problem
        for field in identity_map.fields()
        if (problem := tenant.unusable_identifier_problem(field, "user ids and traits"))
    ]
    traits = [trait for trait, _ in identity_map.traits]
    if any(not trait or len(trait) > MAX_TRAIT_CHARS for trait in traits):
        problems.append(f"trait names must be 1 to {MAX_TRAIT_CHARS} characters")
    if len(set(traits)) != len(traits):
        problems.append("each trait may be mapped once")
    if problems:
        raise InvalidInput("; ".join(problems))
    stores().tenants.set_identity_map(tenant_id, identity_map)
