"""What the services need of storage, as interfaces: one implementation on AWS (`audiences.stores`), one in
memory (`audiences.fakes`) that passes the same contract tests (tests/contract).

Nothing here talks to AWS or holds state; `audiences.wiring` says which implementation a process uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from audiences.ports.archive import EventArchive
from audiences.ports.catalog import CatalogStore
from audiences.ports.imports import ImportStore
from audiences.ports.memberships import MembershipStore
from audiences.ports.objects import ObjectStore
from audiences.ports.privacy import PrivacyStore
from audiences.ports.queues import Queues
from audiences.ports.rate_limits import RateLimitStore
from audiences.ports.tenants import TenantStore


@dataclass(frozen=True)
class Stores:
    catalog: CatalogStore
    memberships: MembershipStore
    imports: ImportStore
    objects: ObjectStore
    queues: Queues
    tenants: TenantStore
    archive: EventArchive
    rate_limits: RateLimitStore
    privacy: PrivacyStore
