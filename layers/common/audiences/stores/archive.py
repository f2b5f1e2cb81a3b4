"""The event archive in DataBucket: gzip JSON Lines, partitioned by tenant and date."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

from audiences.settings import get_settings
from audiences.stores import clients


def archive_key(tenant_id: str, received_at: float, upload_id: str) -> str:
    day = datetime.fromtimestamp(received_at, UTC).strftime("%Y-%m-%d")
    return f"events/tenant={tenant_id}/date={day}/{upload_id}.jsonl.gz"


def put_events(tenant_id: str, received_at: float, upload_id: str, events: list[dict]) -> str:
    """One PutObject per upload; the same upload on the same day lands on the same key."""
    received = datetime.fromtimestamp(received_at, UTC).isoformat()
    lines = "".join(json.dumps({"received_at": received, "event": event}) + "\n" for event in events)
    key = archive_key(tenant_id, received_at, upload_id)
    clients.s3().put_object(
        Bucket=get_settings().data_bucket,
        Key=key,
        Body=gzip.compress(lines.encode(), mtime=0),
        ContentType="application/x-ndjson",
        ContentEncoding="gzip",
    )
    return key
