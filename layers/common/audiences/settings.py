"""Every setting the functions read, from the environment, in one typed place.

The `Resource` attributes of `Settings` are the one table of deployed resources: each names
its environment variable, its template resource and its stack output. The functions'
environment, the local stack's `.local/demo.env`, the operator CLI's stack lookup and the
template tests all derive from it. A resource is read when first used, so a process that
lacks one fails only where it needs it, with a message saying where it comes from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache


class SettingsError(RuntimeError):
    """The environment is missing or has a malformed setting; the message names it."""


@dataclass(frozen=True)
class Resource:
    """A deployed resource's name: environment variable, template logical id, stack output."""

    variable: str
    logical_id: str
    output: str

    def __get__(self, settings: Settings | None, owner: type) -> str | Resource:
        if settings is None:
            return self
        value = settings.env.get(self.variable, "").strip()
        if not value:
            raise SettingsError(
                f"environment variable {self.variable} is not set: template.yaml gives it to the functions "
                f"({self.logical_id}); the operator CLI takes it from --local (.local/demo.env, written by "
                f"`make run`) or --stack (the stack output {self.output})"
            )
        return value


class Settings:
    tenants_table = Resource("TENANTS_TABLE", "TenantsTable", "TenantsTableName")
    catalog_table = Resource("CATALOG_TABLE", "CatalogTable", "CatalogTableName")
    memberships_table = Resource("MEMBERSHIPS_TABLE", "MembershipsTable", "MembershipsTableName")
    imports_table = Resource("IMPORTS_TABLE", "ImportsTable", "ImportsTableName")
    data_bucket = Resource("DATA_BUCKET", "DataBucket", "DataBucketName")
    imports_bucket = Resource("IMPORTS_BUCKET", "ImportsBucket", "ImportsBucketName")
    rate_limits_table = Resource("RATE_LIMITS_TABLE", "RateLimitsTable", "RateLimitsTableName")
    imports_queue_url = Resource("IMPORTS_QUEUE_URL", "ImportsQueue", "ImportsQueueUrl")
    apply_queue_url = Resource("APPLY_QUEUE_URL", "ApplyQueue", "ApplyQueueUrl")
    event_archive_stream = Resource("EVENT_ARCHIVE_STREAM", "EventArchiveStream", "EventArchiveStreamName")
    privacy_queue_url = Resource("PRIVACY_QUEUE_URL", "PrivacyQueue", "PrivacyQueueUrl")
    privacy_key_id = Resource("PRIVACY_KEY_ID", "PrivacyKeyAlias", "PrivacyKeyAlias")  # KMS: wraps tenants' secrets

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self.region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
        # How far in the future an event's ts may be: further would lock the entry against
        # every real update until the clock catches up.
        self.max_future_skew_seconds = self._whole("MAX_FUTURE_SKEW_SECONDS", 300)
        # How long a warm container trusts what it read about keys and tenant config.
        self.auth_cache_seconds = self._whole("AUTH_CACHE_SECONDS", 60)
        # How long a warm container trusts its copy of a tenant's catalog for customer queries.
        self.catalog_cache_seconds = self._whole("CATALOG_CACHE_SECONDS", 60)
        # How long a warm container trusts its copy of a tenant's privacy marks.
        self.privacy_cache_seconds = self._whole("PRIVACY_CACHE_SECONDS", 60)
        # How long a privacy job waits between marking its subjects and purging: every container's copy of the
        # marks renewed, and every event accepted before them delivered to the archive (Firehose's buffer,
        # 60 s, and its retries of dynamic partitioning, 300 s).
        self.privacy_settle_seconds = self._whole("PRIVACY_SETTLE_SECONDS", 60 + 60 + 300)
        if self.privacy_cache_seconds > self.privacy_settle_seconds:  # "done" would precede the effect
            raise SettingsError(
                f"PRIVACY_CACHE_SECONDS ({self.privacy_cache_seconds}) must not exceed PRIVACY_SETTLE_SECONDS "
                f"({self.privacy_settle_seconds}): a privacy request would report done while containers still "
                "screen by their old copy of the marks"
            )
        # Deliveries of an import's notification before it is given up (the queue's maxReceiveCount).
        self.import_attempts = self._whole("IMPORT_ATTEMPTS", 10)
        # Powertools' rule: tracing runs in Lambda (not SAM's emulator) unless POWERTOOLS_TRACE_DISABLED.
        self.tracing = (
            bool(env.get("LAMBDA_TASK_ROOT"))
            and not env.get("AWS_SAM_LOCAL")
            and env.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() not in ("1", "true", "yes", "on")
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        return cls(env)

    @classmethod
    def resources(cls) -> tuple[Resource, ...]:
        return tuple(value for value in vars(cls).values() if isinstance(value, Resource))

    def rate_limits(self, name: str, defaults: Mapping[str, int]) -> dict[str, int]:
        """Requests per minute per endpoint, from `NAME=LIMIT,…` in variable `name` over `defaults`."""
        limits = dict(defaults)
        for entry in filter(None, (part.strip() for part in self.env.get(name, "").split(","))):
            endpoint, _, limit = entry.partition("=")
            if endpoint not in defaults or not limit.isdigit() or int(limit) < 1:
                raise SettingsError(
                    f"environment variable {name}: {entry!r} must be ENDPOINT=LIMIT with ENDPOINT one of "
                    f"{', '.join(defaults)} and LIMIT a whole number of requests per minute (at least 1)"
                )
            limits[endpoint] = int(limit)
        return limits

    def _whole(self, name: str, default: int) -> int:
        raw = self.env.get(name, "").strip()
        if not raw:
            return default
        if not raw.isdigit():
            raise SettingsError(f"environment variable {name} must be a whole number, got {raw!r}")
        return int(raw)


@cache
def get_settings() -> Settings:
    return Settings.from_env()
