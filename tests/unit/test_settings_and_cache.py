from __future__ import annotations

import pytest

from audiences.cache import BoundedCache
from audiences.settings import Settings, SettingsError

TABLES = {
    "TENANTS_TABLE": "t",
    "CATALOG_TABLE": "c",
    "MEMBERSHIPS_TABLE": "m",
    "DATA_BUCKET": "d",
    "IMPORTS_TABLE": "i",
    "IMPORTS_BUCKET": "b",
    "RATE_LIMITS_TABLE": "r",
    "IMPORTS_QUEUE_URL": "q",
    "APPLY_QUEUE_URL": "a",
    "EVENT_ARCHIVE_STREAM": "f",
    "PRIVACY_QUEUE_URL": "p",
    "PRIVACY_KEY_ID": "alias/k",
}


def test_settings_from_env_with_defaults():
    settings = Settings.from_env(TABLES | {"AWS_REGION": "eu-west-1"})
    assert (settings.region, settings.tenants_table, settings.max_future_skew_seconds) == ("eu-west-1", "t", 300)
    assert Settings.from_env(TABLES | {"MAX_FUTURE_SKEW_SECONDS": "60"}).max_future_skew_seconds == 60


def test_a_missing_resource_fails_only_where_it_is_used_and_says_where_it_comes_from():
    settings = Settings.from_env({"TENANTS_TABLE": "t"})
    assert settings.tenants_table == "t"
    with pytest.raises(SettingsError) as raised:
        _ = settings.imports_table
    message = str(raised.value)
    assert message.startswith("environment variable IMPORTS_TABLE is not set")
    assert "(ImportsTable)" in message and "--local (.local/demo.env" in message
    assert "the stack output ImportsTableName" in message


def test_the_settings_table_lists_every_resource_once():
    resources = Settings.resources()
    assert {r.variable for r in resources} == set(TABLES)
    for attribute in ("variable", "logical_id", "output"):
        assert len({getattr(r, attribute) for r in resources}) == len(resources)


def test_malformed_numbers_name_the_variable():
    with pytest.raises(SettingsError, match="AUTH_CACHE_SECONDS must be a whole number, got '1m'"):
        Settings.from_env(TABLES | {"AUTH_CACHE_SECONDS": "1m"})


def test_a_cached_value_is_reloaded_only_after_its_age():
    now = [0.0]
    loads = []
    cache = BoundedCache(10, lambda: 60, clock=lambda: now[0])

    def load():
        loads.append(now[0])
        return len(loads)

    assert cache.get_or_load("k", load) == 1
    now[0] = 59.9
    assert cache.get_or_load("k", load) == 1
    now[0] = 60.0
    assert cache.get_or_load("k", load) == 2
    cache.clear()
    assert cache.get_or_load("k", load) == 3


def test_a_cache_holds_at_most_its_entries_dropping_the_least_recently_used():
    cache = BoundedCache(3, lambda: 60)
    for key in "abc":
        cache.put(key, key)
    cache.get("a")  # used: "b" is now the least recently used
    cache.put("d", "d")
    assert len(cache) == 3 and cache.get("b") is None and cache.get("a") == "a"
    for n in range(10_000):
        cache.put(n, n)
    assert len(cache) == 3


def test_expired_entries_leave_memory_without_being_asked_for():
    now = [0.0]
    cache = BoundedCache(1_000, lambda: 60, clock=lambda: now[0])
    for n in range(500):
        cache.put(n, n)
    now[0] = 61.0
    cache.put("fresh", 1)
    assert len(cache) == 1


def test_a_none_value_is_cached_as_a_value():
    cache = BoundedCache(2, lambda: 60)
    loads = []
    for _ in range(3):
        cache.get_or_load("absent", lambda: loads.append(1))
    assert loads == [1]


def test_rate_limits_override_defaults_and_refuse_what_they_cannot_read():
    defaults = {"get": 100, "list": 60}
    assert Settings.from_env({}).rate_limits("LIMITS", defaults) == defaults
    assert Settings.from_env({"LIMITS": "list=120"}).rate_limits("LIMITS", defaults) == {"get": 100, "list": 120}
    for wrong in ("lists=1", "get=0", "get=many", "get"):
        with pytest.raises(SettingsError, match=f"LIMITS: {wrong!r} must be ENDPOINT=LIMIT"):
            Settings.from_env({"LIMITS": wrong}).rate_limits("LIMITS", defaults)
