from __future__ import annotations

import pytest

from audiences.cache import TTLCache
from audiences.settings import Settings, SettingsError

TABLES = {
    "TENANTS_TABLE": "t",
    "CATALOG_TABLE": "c",
    "MEMBERSHIPS_TABLE": "m",
    "DATA_BUCKET": "d",
    "IMPORTS_TABLE": "i",
    "IMPORTS_BUCKET": "b",
}


def test_settings_from_env_with_defaults():
    settings = Settings.from_env(TABLES | {"AWS_REGION": "eu-west-1"})
    assert (settings.region, settings.tenants_table, settings.max_future_skew_seconds) == ("eu-west-1", "t", 300)
    assert Settings.from_env(TABLES | {"MAX_FUTURE_SKEW_SECONDS": "60"}).max_future_skew_seconds == 60


def test_missing_or_malformed_settings_name_the_variable():
    with pytest.raises(SettingsError, match="CATALOG_TABLE is not set"):
        Settings.from_env({"TENANTS_TABLE": "t", "MEMBERSHIPS_TABLE": "m"})
    with pytest.raises(SettingsError, match="AUTH_CACHE_SECONDS must be whole seconds, got '1m'"):
        Settings.from_env(TABLES | {"AUTH_CACHE_SECONDS": "1m"})


def test_cache_reloads_only_after_its_ttl():
    now = [0.0]
    loads = []
    cache = TTLCache(lambda: 60, clock=lambda: now[0])

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
