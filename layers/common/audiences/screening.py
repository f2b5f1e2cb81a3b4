"""Screening: what the tenant's privacy marks drop before anything is stored.

A suppressed subject's events, calls, file rows and run rows are accepted and dropped; an erased subject's
changes dated up to the erasure are dropped (a replay does not bring the person back), later ones count.
Marks hold only HMAC-SHA256(tenant secret, field NUL value), so what is screened is hashed first; a tenant
that never made a privacy request has no secret, and nothing is hashed or dropped.

A container keeps a tenant's marks for `privacy_cache_seconds`; the privacy job waits that long after
marking before it erases, so every container screens by the new marks before the stored copies are purged.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

from audiences.cache import BoundedCache
from audiences.domain import MembershipChange
from audiences.ports.privacy import Mark, Screening
from audiences.settings import get_settings
from audiences.wiring import stores

MAX_STRINGS_PER_EVENT = 1_000  # an event's strings hashed at most: a bound on what one event costs (events hold tens)
# Tenants' marks kept: as many as the catalog copies, since a tenant's marks may be a few MB (Segment's quota
# lets a workspace suppress 110,000 users a month, about 20 MB of marks).
SCREENINGS_KEPT = 64

_screenings: BoundedCache[Screening] = BoundedCache(SCREENINGS_KEPT, lambda: get_settings().privacy_cache_seconds)


def subject_hash(secret: bytes, field: str, value: str) -> str:
    return hmac.digest(secret, f"{field}\0{value}".encode(), "sha256").hex()


def of(tenant_id: str) -> Screening:
    """The tenant's secret and marks: this container's copy, read with one Query when it is older than the
    cache's age."""
    return _screenings.get_or_load(tenant_id, lambda: stores().privacy.screening(tenant_id))


def forget(tenant_id: str) -> None:
    """Drop this container's copy (the privacy job, after marking: its own next read sees the marks)."""
    _screenings.forget(tenant_id)


@dataclass(frozen=True)
class Screen:
    screening: Screening
    now: float

    @property
    def active(self) -> bool:
        return bool(self.screening.marks)

    @cached_property  # asked for each event of an upload: the marks are looked through once
    def suppressing(self) -> bool:
        """Whether any subject is suppressed now: only then are an upload's events hashed."""
        return any(mark.suppressed(self.now) for mark in self.screening.marks.values())

    def mark_of(self, field: str, value: str) -> Mark | None:
        secret = self.screening.secret
        return self.screening.marks.get(subject_hash(secret, field, value)) if secret else None

    def drops(self, field: str, value: str, ts: float) -> bool:
        """Whether a change (or row) of the subject at `ts` is dropped."""
        mark = self.mark_of(field, value)
        return mark is not None and (mark.suppressed(self.now) or (mark.erased_at is not None and ts <= mark.erased_at))

    def suppresses(self, field: str, value: str) -> bool:
        mark = self.mark_of(field, value)
        return mark is not None and mark.suppressed(self.now)

    def changes(self, changes: Sequence[MembershipChange]) -> tuple[list[MembershipChange], int]:
        """The changes that count, and how many were dropped."""
        if not self.active:
            return list(changes), 0
        kept = [c for c in changes if not self.drops(c.user.field, c.user.value, c.ts)]
        return kept, len(changes) - len(kept)

    def values(self, field: str, values: Iterable[str], as_of: float) -> list[str]:
        """The values of a list (of `field`, true as of `as_of`) that are not dropped."""
        return [value for value in values if not self.drops(field, value, as_of)]

    def event_suppressed(self, event: object, fields: Iterable[str]) -> bool:
        """Whether an event (any JSON value, whatever its dialect) names a suppressed subject: any string in it,
        as any of the tenant's identifier fields."""
        if not self.suppressing:
            return False
        fields = list(fields)
        return any(self.suppresses(f, s) for s in _strings(event) for f in fields)


def screen(tenant_id: str, now: float | None = None) -> Screen:
    return Screen(of(tenant_id), time.time() if now is None else now)


def _strings(value: object) -> Iterator[str]:
    """The strings of a JSON value, keys included, without recursion; at most MAX_STRINGS_PER_EVENT."""
    pending, seen = [value], 0
    while pending and seen < MAX_STRINGS_PER_EVENT:
        item = pending.pop()
        if isinstance(item, str):
            seen += 1
            yield item
        elif isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
