"""What a warm container remembers stays bounded, however many hostile requests it serves."""

from __future__ import annotations

import secrets

from audiences import cache, catalog
from tests.integration.helpers import customer_query, event, segment

T = 1_748_851_070


def cached_entries() -> int:
    return sum(len(kept) for kept in cache._all_caches)


def bounds() -> int:
    return sum(kept.max_entries for kept in cache._all_caches)


def test_subsets_naming_random_segments_are_remembered_absent_only_up_to_the_bound(api, demo):
    private = demo["DEMO_PRIVATE_KEY"]
    api.call("PUT", "/v3/segments/vip", segment("vip"), key=private)
    api.call("POST", "/v3/events", [event("qualify", "u1", "vip", T)], key=demo["DEMO_PUBLIC_KEY"])
    requests = catalog.ABSENT_KEYS_KEPT // 100 + 5
    for _ in range(requests):
        subset = [f"k{secrets.token_hex(6)}" for _ in range(100)]
        answer = api.call("POST", "/v3/graphql", customer_query("u1", subset), key=demo["DEMO_PUBLIC_KEY"])
        assert answer.status == 200 and "errors" not in answer.body

    copy = catalog._copies.get("demo")
    assert len(copy.absent_keys) == catalog.ABSENT_KEYS_KEPT
    assert api.call("POST", "/v3/graphql", customer_query("u1", ["vip"]), key=private).body["data"]["customer"]
