"""The contracts of the tenant, queue, archive and rate-limit stores, on AWS and in memory."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from audiences.domain import Confidence, Identifier, IdentityMap, Principal, Scope, Tenant, UserRef
from audiences.errors import Conflict, NotFound
from audiences.ports.archive import Event
from audiences.ports.tenants import key_id_of
from tests.contract.conftest import archived, received


def test_tenants_their_identifiers_and_identity_maps(stores):
    tenant = Tenant.of("t1", fs_user_id=Confidence.HIGH)
    stores.tenants.create_tenant(tenant)
    stores.tenants.create_tenant(Tenant.of("t0", email=Confidence.LOW))
    assert stores.tenants.get_tenant("t1") == tenant and stores.tenants.get_tenant("nope") is None
    assert [t.tenant_id for t in stores.tenants.list_tenants()] == ["t0", "t1"]
    with pytest.raises(Conflict):
        stores.tenants.create_tenant(tenant)
    stores.tenants.add_identifier("t1", Identifier("email", Confidence.LOW, "Email", messaging=True))
    with pytest.raises(Conflict):
        stores.tenants.add_identifier("t1", Identifier("email", Confidence.HIGH))
    with pytest.raises(NotFound):
        stores.tenants.add_identifier("nope", Identifier("email", Confidence.HIGH))
    stores.tenants.set_identity_map("t1", IdentityMap("fs_user_id", (("mail", "email"),)))
    with pytest.raises(NotFound):
        stores.tenants.set_identity_map("nope", IdentityMap())
    stored = stores.tenants.get_tenant("t1")
    assert stored.identifiers["email"] == Identifier("email", Confidence.LOW, "Email", messaging=True)
    assert (stored.identity_map, stored.revision) == (IdentityMap("fs_user_id", (("mail", "email"),)), 3)


def test_keys_are_stored_by_hash_listed_by_id_and_revoked(stores):
    stores.tenants.create_tenant(Tenant.of("t1", fs_user_id=Confidence.HIGH))
    stores.tenants.create_tenant(Tenant.of("t2", fs_user_id=Confidence.HIGH))
    before = datetime.now(UTC)
    stores.tenants.put_key("a" * 64, Principal("t1", Scope.PUBLIC))
    stores.tenants.put_key("b" * 64, Principal("t1", Scope.PRIVATE))
    with pytest.raises(NotFound):
        stores.tenants.put_key("c" * 64, Principal("nope", Scope.PUBLIC))
    assert stores.tenants.get_principal("a" * 64) == Principal("t1", Scope.PUBLIC, key_id_of("a" * 64))
    assert stores.tenants.get_principal("c" * 64) is None
    keys = stores.tenants.list_keys("t1")
    assert [(k.key_id, k.scope) for k in keys] == [(key_id_of("a" * 64), Scope.PUBLIC), ("b" * 12, Scope.PRIVATE)]
    assert all(k.created_at >= before.replace(microsecond=0) for k in keys)
    with pytest.raises(NotFound):
        stores.tenants.revoke_key("t2", key_id_of("a" * 64))  # another tenant's key
    stores.tenants.revoke_key("t1", key_id_of("a" * 64))
    assert stores.tenants.get_principal("a" * 64) is None
    assert [k.key_id for k in stores.tenants.list_keys("t1")] == ["b" * 12]
    with pytest.raises(NotFound):
        stores.tenants.revoke_key("t1", key_id_of("a" * 64))


def test_queued_bodies_arrive_each_once(stores):
    received(stores, "imports")
    stores.queues.send_to_imports('{"run": 1}')
    stores.queues.send_to_apply([f'{{"chunk": {n}}}' for n in range(23)])
    assert received(stores, "imports") == ['{"run": 1}']
    assert sorted(received(stores, "apply")) == sorted(f'{{"chunk": {n}}}' for n in range(23))


def test_archived_events_keep_their_upload_index_source_and_subjects(stores):
    events = [{"type": "passthrough", "n": n, "text": "é"} for n in range(3)]
    named = [(UserRef("email", f"u{n}@x.com"),) * (n % 2) for n in range(3)]
    stores.archive.put_events("t1", 1_764_000_000.0, "u" * 32, dict(enumerate(map(Event, events, named))), "odp-events")
    records = sorted(archived(stores), key=lambda record: record["index"])
    assert [record["event"] for record in records] == events
    assert [record["subjects"] for record in records] == [[], [["email", "u1@x.com"]], []]
    assert {(r["tenant"], r["date"], r["source"], r["upload_id"]) for r in records} == {
        ("t1", "2025-11-24", "odp-events", "u" * 32)
    }


def test_counters_count_and_admit_all_or_nothing(stores):
    assert [stores.rate_limits.count_request("t1", "get", 60, 180) for _ in range(3)] == [1, 2, 3]
    assert stores.rate_limits.count_request("t1", "get", 120, 240) == 1  # a new window
    assert stores.rate_limits.count_request("t2", "get", 60, 180) == 1
    limits = [("runs:audience", 2), ("runs:sandbox", 3)]
    assert stores.rate_limits.count_within("t1", limits, 0, 100) is None
    assert stores.rate_limits.count_within("t1", limits, 0, 100) is None
    assert stores.rate_limits.count_within("t1", limits, 0, 100) == (0, 2)  # neither is counted
    assert stores.rate_limits.count_within("t1", [("runs:other", 2), ("runs:sandbox", 3)], 0, 100) is None
    assert stores.rate_limits.count_within("t1", [("runs:other", 2), ("runs:sandbox", 3)], 0, 100) == (1, 3)
    stores.rate_limits.uncount("t1", ["runs:sandbox"], 0)
    assert stores.rate_limits.count_within("t1", [("runs:other", 2), ("runs:sandbox", 3)], 0, 100) is None
