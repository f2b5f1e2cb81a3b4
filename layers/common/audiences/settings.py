"""Every setting the functions read, from the environment, in one typed place."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache


class SettingsError(RuntimeError):
    """The environment is missing or has a malformed setting; the message names it."""


@dataclass(frozen=True)
class Settings:
    region: str
    tenants_table: str
    catalog_table: str
    memberships_table: str
    data_bucket: str
    imports_table: str
    imports_bucket: str
    # How far in the future an event's ts may be: further would lock the entry against
    # every real update until the clock catches up.
    max_future_skew_seconds: int = 300
    # How long a warm container trusts what it read about keys and tenant config.
    auth_cache_seconds: int = 60
    # How long a warm container trusts its copy of a tenant's catalog for customer queries.
    catalog_cache_seconds: int = 60

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise SettingsError(f"environment variable {name} is not set (template.yaml sets it)")
            return value

        def seconds(name: str, default: int) -> int:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            if not raw.isdigit():
                raise SettingsError(f"environment variable {name} must be whole seconds, got {raw!r}")
            return int(raw)

        return cls(
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            tenants_table=required("TENANTS_TABLE"),
            catalog_table=required("CATALOG_TABLE"),
            memberships_table=required("MEMBERSHIPS_TABLE"),
            data_bucket=required("DATA_BUCKET"),
            imports_table=required("IMPORTS_TABLE"),
            imports_bucket=required("IMPORTS_BUCKET"),
            max_future_skew_seconds=seconds("MAX_FUTURE_SKEW_SECONDS", cls.max_future_skew_seconds),
            auth_cache_seconds=seconds("AUTH_CACHE_SECONDS", cls.auth_cache_seconds),
            catalog_cache_seconds=seconds("CATALOG_CACHE_SECONDS", cls.catalog_cache_seconds),
        )


@cache
def get_settings() -> Settings:
    return Settings.from_env()
