"""The catalog in memory: each write checks every condition first, then changes everything or nothing."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

from audiences.domain import Audience
from audiences.errors import audience_key_taken, claim_taken, external_id_taken
from audiences.ports.catalog import Order, Page, RevisionRaced, position


class InMemoryCatalog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._audiences: dict[str, dict[str, Audience]] = {}  # tenant -> key -> audience
        self._names: dict[str, dict[str, str]] = {}  # tenant -> "external:", "id:" or "claim:" name -> key

    def _of(self, tenant_id: str) -> tuple[dict[str, Audience], dict[str, str]]:
        return self._audiences.setdefault(tenant_id, {}), self._names.setdefault(tenant_id, {})

    def get_audience(self, tenant_id: str, key: str) -> Audience | None:
        with self._lock:
            return self._of(tenant_id)[0].get(key)

    def get_audience_by_id(self, tenant_id: str, audience_id: str) -> Audience | None:
        with self._lock:
            audiences, names = self._of(tenant_id)
            return audiences.get(names.get(f"id:{audience_id}", ""))

    def count_audiences(self, tenant_id: str) -> int:
        with self._lock:
            return len(self._of(tenant_id)[0])

    def page(
        self,
        tenant_id: str,
        order: Order,
        limit: int,
        after: str | None = None,
        before: str | None = None,
        *,
        enabled_only: bool = False,
    ) -> Page:
        forward = before is None
        start = after if forward else before
        with self._lock:
            placed = sorted(
                ((position(a, order), a) for a in self._of(tenant_id)[0].values()), key=lambda pair: pair[0]
            )
        if not forward:
            placed.reverse()
        found = [
            audience
            for where, audience in placed
            if (start is None or (where > start if forward else where < start))
            and (audience.enabled or not enabled_only)
        ][: limit + 1]
        audiences = found[:limit] if forward else found[:limit][::-1]
        return Page(audiences, more=len(found) > limit)

    def expiring_audiences(self) -> Iterator[tuple[str, Audience]]:
        with self._lock:
            expiring = [(t, a) for t, audiences in self._audiences.items() for a in audiences.values() if a.ttl_days]
        yield from expiring

    def list_audiences(self, tenant_id: str) -> list[Audience]:
        with self._lock:
            return sorted(self._of(tenant_id)[0].values(), key=lambda audience: audience.key)

    def audiences_by_external_id(self, tenant_id: str, external_ids: set[str]) -> dict[str, Audience]:
        with self._lock:
            audiences, names = self._of(tenant_id)
            held = {ext: names.get(f"external:{ext}") for ext in external_ids}
            return {ext: audiences[key] for ext, key in held.items() if key in audiences}

    def audiences_by_key(self, tenant_id: str, keys: set[str]) -> list[Audience]:
        with self._lock:
            audiences = self._of(tenant_id)[0]
            return [audiences[key] for key in keys if key in audiences]

    def create_audience(self, tenant_id: str, audience: Audience, actor: str) -> Audience:
        now = datetime.now(UTC)
        created = replace(
            audience, audience_id=str(uuid.uuid4()), created_at=now, updated_at=now, created_by=actor, updated_by=actor
        )
        with self._lock:
            audiences, names = self._of(tenant_id)
            if created.key in audiences:
                raise audience_key_taken(created.key)
            if (holder := names.get(f"external:{created.external_id}")) is not None:
                raise external_id_taken(created.external_id, holder)
            for claim in sorted(created.claims):
                if f"claim:{claim}" in names:
                    raise claim_taken(claim)
            audiences[created.key] = created
            names[f"external:{created.external_id}"] = names[f"id:{created.audience_id}"] = created.key
            names.update({f"claim:{claim}": created.key for claim in created.claims})
        return created

    def update_audience(self, tenant_id: str, current: Audience, wanted: Audience, actor: str) -> Audience:
        now = datetime.now(UTC)
        with self._lock:
            audiences, names = self._of(tenant_id)
            stored = audiences.get(current.key)
            if stored is None or stored.revision != current.revision:
                raise RevisionRaced(current.key)
            moves_external_id = wanted.external_id != current.external_id
            if moves_external_id and (holder := names.get(f"external:{wanted.external_id}")) is not None:
                raise external_id_taken(wanted.external_id, holder)
            for claim in sorted(wanted.claims - current.claims):
                if f"claim:{claim}" in names:
                    raise claim_taken(claim)
            # what the table's update sets; the rest (the origin among them) stays as it was created
            audiences[current.key] = replace(
                stored,
                external_id=wanted.external_id,
                description=wanted.description,
                metadata=wanted.metadata,
                enabled=wanted.enabled,
                name=wanted.name,
                dialect_attributes=wanted.dialect_attributes,
                claims=wanted.claims,
                ttl_days=wanted.ttl_days or None,
                revision=wanted.revision,
                updated_at=now,
                updated_by=actor,
            )
            if moves_external_id:
                del names[f"external:{current.external_id}"]
                names[f"external:{wanted.external_id}"] = current.key
            for claim in current.claims - wanted.claims:
                del names[f"claim:{claim}"]
            names.update({f"claim:{claim}": current.key for claim in wanted.claims - current.claims})
        return replace(
            wanted,
            key=current.key,
            audience_id=current.audience_id,
            created_at=current.created_at,
            created_by=current.created_by,
            updated_at=now,
            updated_by=actor,
        )

    def delete_audience(self, tenant_id: str, current: Audience) -> None:
        with self._lock:
            audiences, names = self._of(tenant_id)
            stored = audiences.get(current.key)
            if stored is None or stored.revision != current.revision:
                raise RevisionRaced(current.key)
            del audiences[current.key]
            for name in (f"external:{stored.external_id}", f"id:{stored.audience_id}"):
                names.pop(name, None)
            for claim in stored.claims:
                names.pop(f"claim:{claim}", None)
