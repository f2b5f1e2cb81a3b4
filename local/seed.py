"""The demo tenant every local stack starts with."""

from __future__ import annotations

from audiences import auth
from audiences.domain import Confidence, Principal, Scope, Tenant
from audiences.wiring import stores

DEMO_TENANT = Tenant.of("demo", fs_user_id=Confidence.HIGH, email=Confidence.HIGH, vuid=Confidence.LOW)


def seed_demo(public_key: str | None = None, private_key: str | None = None) -> dict[str, str]:
    """Create tenant `demo` with one public and one private key (given, or generated)."""
    stores().tenants.create_tenant(DEMO_TENANT)
    return {
        "DEMO_PUBLIC_KEY": auth.issue_key(Principal(DEMO_TENANT.tenant_id, Scope.PUBLIC), public_key or None),
        "DEMO_PRIVATE_KEY": auth.issue_key(Principal(DEMO_TENANT.tenant_id, Scope.PRIVATE), private_key or None),
    }
