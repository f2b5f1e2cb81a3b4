"""The catalog store: audiences, the names they hold (key, external id, id, claims), and the orders they list in."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from audiences.domain import AUDIENCE_KEY, Audience

_AUDIENCE = "AUDIENCE#"


class RevisionRaced(Exception):
    """Another writer changed the audience (or the tenant's count) between our read and our write."""


class Order(StrEnum):
    KEY = "key"  # by key: ODP's listings
    CREATION = "creation"  # oldest first, ties by id: Segment's and Adobe's listings


@dataclass(frozen=True)
class Page:
    audiences: list[Audience]  # in the order's direction, whichever way the page was read
    more: bool  # whether more audiences lie beyond this page, in the direction it was read


def created_key(created_at: datetime, audience_id: str) -> str:
    """An audience's place in creation order: its creation time, ties broken by its id."""
    return f"{created_at.isoformat(timespec='microseconds')}#{audience_id}"


def key_position(key: str) -> str:
    """Where an audience with this key stands, or would stand, in key order (the catalog table's sort key)."""
    return f"{_AUDIENCE}{key}"


def key_of_position(where: str) -> str:
    return where.removeprefix(_AUDIENCE)


def position(audience: Audience, order: Order) -> str:
    """Where an audience stands in `order`: what a listing resumes after (or before)."""
    at_key = key_position(audience.key)
    return at_key if order is Order.KEY else f"{created_key(audience.created_at, audience.audience_id)}|{at_key}"


def is_position(where: str, order: Order) -> bool:
    """Whether `where` has the shape `position` gives in `order`: only such a string may start a listing."""
    created, _, at_key = where.rpartition("|") if order is Order.CREATION else ("", "", where)
    if not (at_key.startswith(_AUDIENCE) and AUDIENCE_KEY.fullmatch(key_of_position(at_key))):
        return False
    if order is Order.KEY:
        return True
    moment, _, audience_id = created.partition("#")
    try:
        return created_key(datetime.fromisoformat(moment), str(uuid.UUID(audience_id))) == created
    except ValueError:
        return False


class CatalogStore(Protocol):
    """Every read is strongly consistent. A write changes the audience, its names and the tenant's count
    together or not at all."""

    def get_audience(self, tenant_id: str, key: str) -> Audience | None: ...

    def get_audience_by_id(self, tenant_id: str, audience_id: str) -> Audience | None: ...

    def count_audiences(self, tenant_id: str) -> int: ...

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
        """At most `limit` audiences after the position `after` (or before `before`), and whether more lie beyond."""
        ...

    def expiring_audiences(self) -> Iterator[tuple[str, Audience]]:
        """Every audience with a TTL, of every tenant, with its tenant."""
        ...

    def list_audiences(self, tenant_id: str) -> list[Audience]:
        """Every audience of a tenant, in key order."""
        ...

    def audiences_by_external_id(self, tenant_id: str, external_ids: set[str]) -> dict[str, Audience]: ...

    def audiences_by_key(self, tenant_id: str, keys: set[str]) -> list[Audience]:
        """The audiences with these keys (at most 100), in no particular order."""
        ...

    def create_audience(self, tenant_id: str, audience: Audience, actor: str) -> Audience:
        """Store a new audience with a new id and creation time; Conflict (errors.audience_key_taken,
        external_id_taken or claim_taken, checked in that order) if any of its names is held."""
        ...

    def update_audience(self, tenant_id: str, current: Audience, wanted: Audience, actor: str) -> Audience:
        """Replace `current` (as read) with `wanted` and return what is stored; RevisionRaced if it changed since,
        Conflict if `wanted` takes an external id or claim another audience holds."""
        ...

    def delete_audience(self, tenant_id: str, current: Audience) -> None:
        """Delete `current` (as read) and free its names; RevisionRaced if it changed since."""
        ...
