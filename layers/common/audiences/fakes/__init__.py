"""Every store in memory, for tests of the rules above the stores: each passes the contract tests its AWS
store passes (tests/contract), and none may import an AWS library (the layer contract)."""

from __future__ import annotations

from audiences.fakes.archive import InMemoryArchive
from audiences.fakes.catalog import InMemoryCatalog
from audiences.fakes.imports import InMemoryImports
from audiences.fakes.memberships import InMemoryMemberships
from audiences.fakes.objects import InMemoryObjects
from audiences.fakes.privacy import InMemoryPrivacy
from audiences.fakes.queues import InMemoryQueues
from audiences.fakes.rate_limits import InMemoryRateLimits
from audiences.fakes.tenants import InMemoryTenants
from audiences.ports import Stores


def in_memory() -> Stores:
    queues = InMemoryQueues()
    objects = InMemoryObjects(announce=queues.send_to_imports)
    return Stores(
        catalog=InMemoryCatalog(),
        memberships=InMemoryMemberships(),
        imports=InMemoryImports(),
        objects=objects,
        queues=queues,
        tenants=InMemoryTenants(),
        archive=InMemoryArchive(deliver=objects.put_data),
        rate_limits=InMemoryRateLimits(),
        privacy=InMemoryPrivacy(),
    )
