"""Accepting an upload of events: archive it whole, then apply its membership changes."""

from __future__ import annotations

import hashlib

from audiences import memberships
from audiences.domain import MembershipChange
from audiences.memberships import ApplyResult
from audiences.ports.archive import MAX_RECORD_BYTES
from audiences.wiring import stores

# The largest event the archive can keep: one Firehose record, less its envelope (tenant, date,
# upload id, index, receive time: well under 1 KiB).
MAX_EVENT_BYTES = MAX_RECORD_BYTES - 1024


def upload_id(tenant_id: str, body: str) -> str:
    """Names an upload by its content, so the archive's readers can tell a client's retry of it."""
    return hashlib.sha256(f"{tenant_id}\n{body}".encode()).hexdigest()[:32]


def accept(
    tenant_id: str, source: str, body: str, events: list[dict], changes: list[MembershipChange], now: float
) -> ApplyResult:
    """Durably keep every event (as having come by `source`), then apply the changes; only then is
    the upload accepted.

    The archive is written first: if it fails nothing is applied, and if applying fails the
    client's retry archives the same records again (same upload id) and applies only what is
    still missing.
    """
    stores().archive.put_events(tenant_id, now, upload_id(tenant_id, body), events, source)
    return memberships.apply(tenant_id, changes)
