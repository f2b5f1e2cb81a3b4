"""What a warm container remembers stays bounded, however many hostile requests it serves."""

from __future__ import annotations

import secrets

from audiences import auth, cache
from tests.integration.helpers import customer_query, event

T = 1_748_851_070


def cached_entries() -> int:
    return sum(len(kept) for kept in cache._all_caches)


def bounds() -> int:
    return sum(kept.max_entries for kept in cache._all_caches)


def test_a_stream_of_random_keys_stays_within_the_bounds_and_the_key_in_use_stays_cached(api, demo, aws_calls):
    public = demo["DEMO_PUBLIC_KEY"]
    api.call("POST", "/v3/events", [event("qualify", "u1", "vip", T)], key=public)
    floods = auth.UNKNOWN_KEYS_KEPT + 200
    for _ in range(floods):
        assert api.call("POST", "/v3/graphql", customer_query("u1"), key=secrets.token_urlsafe(16)).status == 403

    assert len(auth._unknown_keys) == auth.UNKNOWN_KEYS_KEPT
    assert cached_entries() <= bounds()
    aws_calls.reset()
    assert api.call("POST", "/v3/events", [event("qualify", "u2", "vip", T)], key=public).status == 202
    assert aws_calls.counts()["dynamodb.GetItem"] == 0  # the key and its tenant are still cached
