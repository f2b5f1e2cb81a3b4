"""The audience catalog, one for every dialect: create, update, delete, find, list.

Revisions never skip or repeat: every change is conditioned on the revision it read. Who made
a change (a key id, or the operator) is recorded with it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from itertools import islice
from typing import TypeVar

from audiences.cache import BoundedCache
from audiences.domain import Audience
from audiences.errors import Conflict, Reason, audience_not_found
from audiences.ports.catalog import Order, Page, RevisionRaced, is_position, key_position, position
from audiences.settings import get_settings
from audiences.wiring import stores

__all__ = ["Order", "Page", "is_position", "key_position", "position"]  # the listing vocabulary dialects page with

_RACE_ATTEMPTS = 8
_BASE_BACKOFF_SECONDS = 0.02  # a lost race backs off with full jitter: the writers it met do not meet again
T = TypeVar("T")
COPIES_KEPT = 64  # tenants whose catalog a container keeps a copy of
ABSENT_KEYS_KEPT = 10_000  # keys a copy remembers no audience has; any beyond are looked up again


@dataclass
class _Copy:
    """A container's copy of one tenant's catalog, as customer queries read it."""

    by_external_id: dict[str, Audience] = field(default_factory=dict)
    by_key: dict[str, Audience] = field(default_factory=dict)
    absent_keys: set[str] = field(default_factory=set)  # looked up and not found, until the copy expires

    def add(self, audiences: Iterable[Audience]) -> None:
        for audience in audiences:
            self.by_external_id[audience.external_id] = audience
            self.by_key[audience.key] = audience

    def remember_absent(self, keys: set[str]) -> None:
        """Keys no audience has, as far as room allows: a public key can name any key in a subset."""
        room = ABSENT_KEYS_KEPT - len(self.absent_keys)
        self.absent_keys.update(islice(keys, max(room, 0)))


def _load_copy(tenant_id: str) -> _Copy:
    copy = _Copy()
    copy.add(stores().catalog.list_audiences(tenant_id))
    return copy


_copies: BoundedCache[_Copy] = BoundedCache(COPIES_KEPT, lambda: get_settings().catalog_cache_seconds)


def _key_taken(error: Conflict) -> bool:
    return error.reason is Reason.KEY_TAKEN


def _back_off(attempt: int) -> None:
    time.sleep(random.uniform(0, _BASE_BACKOFF_SECONDS * 2**attempt))


def _until_settled(key: str, attempt: Callable[[], T]) -> T:
    """Optimistic concurrency: re-read and retry while another writer keeps winning the race."""
    for tries in range(_RACE_ATTEMPTS):
        try:
            return attempt()
        except RevisionRaced:
            _back_off(tries)
        except Conflict as error:
            if not _key_taken(error):
                raise
    raise RuntimeError(f"audience {key!r} kept changing under {_RACE_ATTEMPTS} attempts to change it")


def _changed(tenant_id: str) -> None:
    """This container's copy of the tenant's catalog is stale: customer answers read it afresh.

    Other containers refresh theirs within CATALOG_CACHE_SECONDS.
    """
    _copies.forget(tenant_id)


def create_audience(tenant_id: str, wanted: Audience, actor: str) -> Audience:
    """Create a new audience (Conflict if the key or external id is taken); its revision is 1."""
    for tries in range(_RACE_ATTEMPTS):
        try:
            created = stores().catalog.create_audience(tenant_id, replace(wanted, revision=1), actor)
        except RevisionRaced:  # another transaction held the tenant's count at the same moment
            _back_off(tries)
            continue
        _changed(tenant_id)
        return created
    raise RuntimeError(f"audience {wanted.key!r} could not be created under {_RACE_ATTEMPTS} attempts")


def put_audience(
    tenant_id: str, wanted: Audience, actor: str, merge: Callable[[Audience, Audience], Audience] = lambda _, w: w
) -> int:
    """Create the audience, or bring it to `merge(current, wanted)`; returns its revision afterwards.

    A dialect's PUT says what it can say of an audience; `merge` keeps what it cannot. An update
    that changes nothing keeps the revision: only changes are counted.
    """

    def attempt() -> int:
        current = stores().catalog.get_audience(tenant_id, wanted.key)
        if current is None:
            return stores().catalog.create_audience(tenant_id, replace(wanted, revision=1), actor).revision
        return _update(tenant_id, current, merge(current, wanted), actor).revision

    revision = _until_settled(wanted.key, attempt)
    _changed(tenant_id)
    return revision


def update_audience(tenant_id: str, audience_id: str, change: Callable[[Audience], Audience], actor: str) -> Audience:
    """Apply `change` to the audience with this id, as read; retried if another writer raced it."""

    def attempt() -> Audience:
        current = get_audience_by_id(tenant_id, audience_id)
        return _update(tenant_id, current, change(current), actor)

    updated = _until_settled(audience_id, attempt)
    _changed(tenant_id)
    return updated


def _update(tenant_id: str, current: Audience, wanted: Audience, actor: str) -> Audience:
    if current.same_content(wanted):
        return current
    return stores().catalog.update_audience(tenant_id, current, replace(wanted, revision=current.revision + 1), actor)


def delete_audience(tenant_id: str, key: str) -> None:
    """Delete an audience; its memberships stay, keyed by external id, for a re-creation."""
    _until_settled(key, lambda: stores().catalog.delete_audience(tenant_id, get_audience(tenant_id, key)))
    _changed(tenant_id)


def delete_audience_by_id(tenant_id: str, audience_id: str) -> None:
    _until_settled(
        audience_id, lambda: stores().catalog.delete_audience(tenant_id, get_audience_by_id(tenant_id, audience_id))
    )
    _changed(tenant_id)


def get_audience(tenant_id: str, key: str) -> Audience:
    audience = stores().catalog.get_audience(tenant_id, key)
    if audience is None:
        raise audience_not_found(key=key)
    return audience


def get_audience_by_id(tenant_id: str, audience_id: str) -> Audience:
    audience = stores().catalog.get_audience_by_id(tenant_id, audience_id)
    if audience is None:
        raise audience_not_found(id=audience_id)
    return audience


def page(
    tenant_id: str,
    order: Order,
    limit: int,
    after: str | None = None,
    before: str | None = None,
    *,
    enabled_only: bool = False,
) -> Page:
    """One page of the tenant's audiences in `order`: one Query, whatever the catalog's size."""
    return stores().catalog.page(tenant_id, order, limit, after, before, enabled_only=enabled_only)


def count_audiences(tenant_id: str) -> int:
    return stores().catalog.count_audiences(tenant_id)


def list_audiences(tenant_id: str) -> list[Audience]:
    return stores().catalog.list_audiences(tenant_id)


def audiences_by_external_id(tenant_id: str, external_ids: set[str]) -> dict[str, Audience]:
    """The audiences holding these external ids, from this container's copy of the catalog.

    The copy is refreshed every CATALOG_CACHE_SECONDS, and at once after a change made in
    this container, so changes and deletions show within that time. An id the copy lacks (an
    audience created since, or a membership no audience holds) is looked up at once, so a new
    audience answers immediately.
    """
    copy = _copies.get_or_load(tenant_id, lambda: _load_copy(tenant_id))
    known = copy.by_external_id
    missing = external_ids - known.keys()
    if missing:
        copy.add(stores().catalog.audiences_by_external_id(tenant_id, missing).values())
    return {external_id: known[external_id] for external_id in external_ids if external_id in known}


def audiences_by_key(tenant_id: str, keys: set[str], trust_absent: bool = True) -> dict[str, Audience]:
    """The audiences with these keys, from this container's copy of the catalog.

    A key the copy lacks is looked up once (one BatchGetItem) and, if no audience has it,
    remembered as absent until the copy is refreshed: a subset that names a deleted segment
    costs nothing on every later query, and an audience created with that key in another
    container shows within CATALOG_CACHE_SECONDS. Without `trust_absent` such keys are looked
    up again: a write must not go astray for a minute because an audience was made elsewhere.
    """
    copy = _copies.get_or_load(tenant_id, lambda: _load_copy(tenant_id))
    missing = keys - copy.by_key.keys() - (copy.absent_keys if trust_absent else set())
    if missing:
        copy.add(stores().catalog.audiences_by_key(tenant_id, missing))
        copy.remember_absent(missing - copy.by_key.keys())
    return {key: copy.by_key[key] for key in keys if key in copy.by_key}
