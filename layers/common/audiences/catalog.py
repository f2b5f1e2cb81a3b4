"""The audience catalog: create, update, delete, with revisions that never skip or repeat."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from audiences.cache import TTLCache
from audiences.domain import Audience
from audiences.errors import NotFound
from audiences.settings import get_settings
from audiences.stores import catalog as catalog_store

_RACE_ATTEMPTS = 5
T = TypeVar("T")

# Per tenant: external id -> audience, as customer queries need it.
_by_external_id: TTLCache[dict[str, Audience]] = TTLCache(lambda: get_settings().catalog_cache_seconds)


def _until_settled(key: str, attempt: Callable[[], T]) -> T:
    """Optimistic concurrency: re-read and retry while another writer keeps winning the race."""
    for _ in range(_RACE_ATTEMPTS):
        try:
            return attempt()
        except (catalog_store.RevisionRaced, catalog_store.KeyTaken):
            continue
    raise RuntimeError(f"audience {key!r} kept changing under {_RACE_ATTEMPTS} attempts to change it")


def create_audience(tenant_id: str, wanted: Audience) -> int:
    """Create a new audience (Conflict if the key or external id is taken); its revision is 1."""
    catalog_store.create_audience(tenant_id, replace(wanted, revision=1))
    return 1


def put_audience(tenant_id: str, wanted: Audience) -> int:
    """Create the audience or bring it to `wanted`; returns its revision afterwards.

    An update that changes nothing keeps the revision: only changes are counted.
    """

    def attempt() -> int:
        current = catalog_store.get_audience(tenant_id, wanted.key)
        if current is None:
            return create_audience(tenant_id, wanted)
        if current.same_content(wanted):
            return current.revision
        catalog_store.update_audience(tenant_id, current, replace(wanted, revision=current.revision + 1))
        return current.revision + 1

    return _until_settled(wanted.key, attempt)


def delete_audience(tenant_id: str, key: str) -> None:
    """Delete an audience; its memberships stay, keyed by external id, for a re-creation."""

    def attempt() -> None:
        current = get_audience(tenant_id, key)
        catalog_store.delete_audience(tenant_id, current)

    _until_settled(key, attempt)


def get_audience(tenant_id: str, key: str) -> Audience:
    audience = catalog_store.get_audience(tenant_id, key)
    if audience is None:
        raise NotFound(f"segment {key!r} does not exist")
    return audience


def list_audiences(tenant_id: str) -> list[Audience]:
    return catalog_store.list_audiences(tenant_id)


def audiences_by_external_id(tenant_id: str, external_ids: set[str]) -> dict[str, Audience]:
    """The audiences holding these external ids, from this container's copy of the catalog.

    The copy is refreshed every CATALOG_CACHE_SECONDS, so changes and deletions show within
    that time. An id the copy lacks (an audience created since, or a membership no audience
    holds) is looked up at once, so a new audience answers immediately.
    """
    known = _by_external_id.get_or_load(
        tenant_id, lambda: {audience.external_id: audience for audience in catalog_store.list_audiences(tenant_id)}
    )
    missing = external_ids - known.keys()
    if missing:
        known.update(catalog_store.audiences_by_external_id(tenant_id, missing))
    return {external_id: known[external_id] for external_id in external_ids if external_id in known}
