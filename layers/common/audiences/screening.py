"""Screening: what the tenant's privacy marks drop before anything is stored.

A suppressed subject's events, calls, file rows and run rows are accepted and dropped; an erased subject's
changes and events dated up to the erasure are dropped (a replay does not bring the person back, to the
memberships or to the archive), later ones count. Only the subjects a dialect reads in an event are screened
(its identifiers, by the tenant's fields), never its other strings. Marks hold only HMAC-SHA256(tenant secret,
field NUL value), so what is screened is hashed first; a tenant without marks has nothing hashed or dropped.

A container keeps a tenant's marks for `privacy_cache_seconds`: a mark is in effect in every container that
long after it is written, and a privacy job reports nothing done before then (audiences.privacy.jobs).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from audiences.cache import BoundedCache
from audiences.domain import MembershipChange
from audiences.ports.archive import Event
from audiences.ports.privacy import Mark, Screening
from audiences.settings import get_settings
from audiences.wiring import stores

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

    @cached_property  # the marks looked through once: a ts no mark can drop is not hashed
    def _drops_up_to(self) -> float:
        """The latest ts any mark drops now (+inf while someone is suppressed)."""
        marks = self.screening.marks.values()
        if any(mark.suppressed(self.now) for mark in marks):
            return float("inf")
        return max((mark.erased_at for mark in marks if mark.erased_at is not None), default=float("-inf"))

    def mark_of(self, field: str, value: str) -> Mark | None:
        secret = self.screening.secret
        return self.screening.marks.get(subject_hash(secret, field, value)) if secret else None

    def drops(self, field: str, value: str, ts: float) -> bool:
        """Whether a change (or row, or event) of the subject at `ts` is dropped."""
        if ts > self._drops_up_to:
            return False
        mark = self.mark_of(field, value)
        return mark is not None and (mark.suppressed(self.now) or (mark.erased_at is not None and ts <= mark.erased_at))

    def changes(self, changes: Sequence[MembershipChange]) -> tuple[list[MembershipChange], int]:
        """The changes that count, and how many were dropped."""
        if not self.active:
            return list(changes), 0
        kept = [c for c in changes if not self.drops(c.user.field, c.user.value, c.ts)]
        return kept, len(changes) - len(kept)

    def values(self, field: str, values: Iterable[str], as_of: float) -> list[str]:
        """The values of a list (of `field`, true as of `as_of`) that are not dropped."""
        return [value for value in values if not self.drops(field, value, as_of)]

    def events(self, events: Sequence[Event]) -> dict[int, Event]:
        """The events the archive keeps, by their index in the upload: those naming no subject the marks drop as
        of the event's time (its change's, else now, its receipt)."""
        return {
            index: event
            for index, event in enumerate(events)
            if not any(self.drops(user.field, user.value, event.happened(self.now)) for user in event.subjects)
        }


def screen(tenant_id: str, now: float | None = None) -> Screen:
    return Screen(of(tenant_id), time.time() if now is None else now)
