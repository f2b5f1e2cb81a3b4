"""Which stores this process uses: the AWS ones (`audiences.stores`) unless a caller installed others.

Services ask `stores()` at each use rather than importing a store, so the rules above the stores run the
same on the in-memory fakes (`audiences.fakes`), which tests install with `using`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from audiences.ports import Stores


def on_aws() -> Stores:
    """The stores on AWS: each a module of `audiences.stores`, imported only when first used."""
    from audiences.stores import archive, catalog, imports, memberships, objects, privacy, queue, rate_limits, tenants

    return Stores(catalog, memberships, imports, objects, queue, tenants, archive, rate_limits, privacy)


_installed: Stores | None = None


def stores() -> Stores:
    global _installed
    if _installed is None:
        _installed = on_aws()
    return _installed


@contextmanager
def using(replacement: Stores) -> Iterator[Stores]:
    """Use `replacement` within the block, in every thread, then what was used before."""
    global _installed
    previous, _installed = _installed, replacement
    try:
        yield replacement
    finally:
        _installed = previous
