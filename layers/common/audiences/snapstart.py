"""What an execution environment restored from a Lambda SnapStart snapshot must not inherit.

Every environment restored from one snapshot starts with the same memory. Module state here is
built lazily (AWS clients and their connections, caches, the write pool's threads), so none of
it is in the snapshot, and ids and keys come from `os.urandom` (uuid4, secrets). `random` is the
exception: seeded at import, every restored copy would draw the same back-off jitter and retry
in step with the others, so it is reseeded on restore. The hook library ships in Lambda's Python
runtime; outside Lambda nothing calls it.
"""

from __future__ import annotations

import random

from snapshot_restore_py import register_after_restore


@register_after_restore
def reseed() -> None:
    random.seed()
