"""Accepting an upload of events: archive it whole, then apply its membership changes."""

from __future__ import annotations

import hashlib

from audiences import memberships, screening
from audiences.domain import MembershipChange, Tenant
from audiences.memberships import ApplyResult
from audiences.ports.archive import MAX_RECORD_BYTES, Event
from audiences.wiring import stores

# The largest event the archive can keep: one Firehose record, less its envelope (tenant, date,
# upload id, index, receive time: well under 1 KiB).
MAX_EVENT_BYTES = MAX_RECORD_BYTES - 1024


def upload_id(tenant_id: str, body: str) -> str:
    """Names an upload by its content, so the archive's readers can tell a client's retry of it."""
    return hashlib.sha256(f"{tenant_id}\n{body}".encode()).hexdigest()[:32]


def accept(
    tenant: Tenant, source: str, body: str, events: list[Event], changes: list[MembershipChange], now: float
) -> ApplyResult:
    """Durably keep every event (as having come by `source`), then apply the changes; only then is
    the upload accepted. An event the privacy marks drop (a suppressed subject's, an erased one's dated up to
    the erasure) is neither kept nor applied: accepted and dropped (its changes counted as `screened`).

    The archive is written first: if it fails nothing is applied, and if applying fails the
    client's retry archives the same records again (same upload id) and applies only what is
    still missing.
    """
    tenant_id, screen = tenant.tenant_id, screening.screen(tenant.tenant_id, now)
    kept = screen.events(events)
    if kept:  # a retry drops the same events, so its records are named alike
        stores().archive.put_events(tenant_id, now, upload_id(tenant_id, body), kept, source)
    return memberships.apply(tenant_id, changes)
