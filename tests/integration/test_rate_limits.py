"""The shared rate limiter: exact under concurrent containers, per tenant and endpoint, reset each minute."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from audiences import rate_limits
from audiences.errors import RateLimited

NOW = 1_795_500_020.0  # 20 s into a minute


def attempt(tenant: str = "demo", endpoint: str = "segment:create", limit: int = 50, now: float = NOW) -> bool:
    try:
        rate_limits.consume(tenant, endpoint, limit, now)
    except RateLimited:
        return False
    return True


def test_exactly_the_limit_passes_under_concurrent_requests(aws):
    with ThreadPoolExecutor(max_workers=20) as pool:
        passed = list(pool.map(lambda _: attempt(), range(80)))
    assert passed.count(True) == 50


def test_limits_are_per_tenant_and_per_endpoint_and_reset_with_the_window(aws):
    assert [attempt(limit=2) for _ in range(3)] == [True, True, False]
    assert attempt(tenant="other", limit=2) and attempt(endpoint="segment:list", limit=2)
    window_end = (NOW // 60 + 1) * 60
    assert not attempt(limit=2, now=window_end - 0.001)
    assert attempt(limit=2, now=window_end)


def test_a_refusal_says_how_far_over_and_until_when(aws):
    for _ in range(2):
        rate_limits.consume("demo", "segment:get", 2, NOW)
    with pytest.raises(RateLimited) as refused:
        rate_limits.consume("demo", "segment:get", 2, NOW)
    usage = refused.value.usage
    assert (usage.consumed, usage.remaining, usage.ms_before_next) == (3, 0, 40_000)
    assert usage.reset_at.timestamp() == NOW + 40


def test_counters_expire_by_ttl_after_their_window(aws):
    from audiences.stores.models import RateCounter

    rate_limits.consume("demo", "segment:get", 5, NOW)
    [counter] = list(RateCounter.scan())
    assert (counter.pk, int(counter.consumed), counter.expires_at) == ("demo#segment:get", 1, (NOW // 60 + 2) * 60)


def test_a_daily_window_starts_at_midnight_utc_and_outlasts_minutes(aws):
    day = 86_400
    midnight = NOW // day * day
    for _ in range(2):
        rate_limits.consume("demo", "adobe:runs", 2, midnight + 5, window_seconds=day)
    with pytest.raises(RateLimited) as refused:
        rate_limits.consume("demo", "adobe:runs", 2, midnight + day - 1, window_seconds=day)
    assert refused.value.usage.ms_before_next == 1000
    assert rate_limits.consume("demo", "adobe:runs", 2, midnight + day, window_seconds=day).consumed == 1
