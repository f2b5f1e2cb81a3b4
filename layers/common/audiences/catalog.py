"""The audience catalog: create or update an audience, with revisions that never skip or repeat."""

from __future__ import annotations

from dataclasses import replace

from audiences.domain import Audience
from audiences.stores import catalog as catalog_store

_RACE_ATTEMPTS = 5


def put_audience(tenant_id: str, wanted: Audience) -> int:
    """Create the audience or bring it to `wanted`; returns its revision afterwards.

    An update that changes nothing keeps the revision: only changes are counted.
    """
    for _ in range(_RACE_ATTEMPTS):
        current = catalog_store.get_audience(tenant_id, wanted.key)
        if current is None:
            try:
                catalog_store.create_audience(tenant_id, replace(wanted, revision=1))
                return 1
            except catalog_store.KeyTaken:
                continue  # created concurrently: update it on the next pass
        if replace(current, revision=0) == replace(wanted, revision=0):
            return current.revision
        try:
            catalog_store.update_audience(tenant_id, current, replace(wanted, revision=current.revision + 1))
            return current.revision + 1
        except catalog_store.RevisionRaced:
            continue
    raise RuntimeError(f"audience {wanted.key!r} kept changing under {_RACE_ATTEMPTS} attempts to update it")


def list_audiences(tenant_id: str) -> list[Audience]:
    return catalog_store.list_audiences(tenant_id)
