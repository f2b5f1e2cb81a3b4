"""What the imports and apply queues carry: an upload's notification, a run, a re-confirmation, a chunk.

Each is a frozen dataclass with the id its activity record is kept under; each parser returns the
works a message asks for (none for a message of another kind), so one consumer reads them all.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote_plus

from audiences.domain import ImportRecord

RUN_PREFIX = "run-"
RECONFIRM_PREFIX = "reconfirm-"
SOURCES = "sources"  # files runs read, laid out by each dialect: <tenant>/sources/<dialect's path>


@dataclass(frozen=True)
class Upload:
    """An object created in the imports bucket, as S3's notification reports it."""

    bucket: str
    key: str
    etag: str
    size: int
    uploaded_at: float  # S3's event time, epoch seconds

    @property
    def import_id(self) -> str:
        """Sorts by upload time; the same upload always gets the same id."""
        moment = datetime.fromtimestamp(self.uploaded_at, UTC)
        digest = hashlib.sha256(f"{self.bucket}\n{self.key}\n{self.etag}\n{self.uploaded_at!r}".encode()).hexdigest()
        return f"{moment:%Y%m%dT%H%M%S}{moment.microsecond // 1000:03d}Z-{digest[:12]}"

    @property
    def tenant_id(self) -> str:
        """Every key of the imports bucket starts with its tenant's id."""
        return self.key.split("/", 1)[0]


@dataclass(frozen=True)
class Run:
    """Read every source file uploaded within [window_start, window_end] as the audience's complete list."""

    tenant_id: str
    audience_key: str
    audience_id: str
    run_id: str  # starts with its creation time, so an audience's runs sort by it
    source: str  # the file, or folder, under the tenant's sources area
    folder: bool
    window_start: float
    window_end: float
    created_at: float  # the members are true as of then
    created_by: str

    @property
    def import_id(self) -> str:
        return run_import_id(self.audience_id, self.run_id)

    def record(self) -> ImportRecord:
        return ImportRecord(
            import_id=self.import_id,
            audience=self.audience_key,
            source=source_key(self.tenant_id, self.source),
            as_of=self.created_at,
            window_start=self.window_start,
            window_end=self.window_end,
            created_by=self.created_by,
        )


@dataclass(frozen=True)
class Reconfirm:
    """Qualify again, as of `at`, every member of the audience's last applied list (a run's)."""

    tenant_id: str
    audience_key: str
    at: float
    created_by: str = ""

    @property
    def import_id(self) -> str:
        return f"{RECONFIRM_PREFIX}{self.audience_key}-{self.at!r}"

    def record(self) -> ImportRecord:
        """Its activity record: an operator sees it end, and why it failed."""
        return ImportRecord(
            import_id=self.import_id, audience=self.audience_key, source="", as_of=self.at, created_by=self.created_by
        )


@dataclass(frozen=True)
class Chunk:
    """Apply chunk `number` of an import's planned changes: the bytes [start, end) of the import's
    changes object, one gzip member of a document of changes of one kind."""

    tenant_id: str
    audience_key: str
    import_id: str
    number: int
    key: str = ""  # the changes object; empty in messages of earlier releases: one object per chunk
    start: int = 0
    end: int = 0

    @property
    def location(self) -> str:
        applies = applies_prefix(self.tenant_id, self.audience_key, self.import_id)
        return self.key or f"{applies}/{self.number:06d}.json.gz"


Work = Upload | Run | Reconfirm


def source_key(tenant_id: str, path: str) -> str:
    """Where a run's source file at `path` (the dialect's layout, under the tenant's area) lives."""
    return f"{tenant_id}/{SOURCES}/{path}"


def applies_prefix(tenant_id: str, audience_key: str, import_id: str) -> str:
    """Where an import's changes and what its failure would leave in doubt are kept, in DataBucket."""
    return f"imports/tenant={tenant_id}/applies/{audience_key}/{import_id}"


def changes_prefix(tenant_id: str, audience_key: str, import_id: str) -> str:
    """Where an import's planned changes are kept, in DataBucket: under a prefix of their own, which a
    lifecycle rule expires (the apply deletes them sooner; a failed import's wait for the next one)."""
    return f"changes/tenant={tenant_id}/{audience_key}/{import_id}"


def snapshot_key(tenant_id: str, audience_key: str, import_id: str) -> str:
    return f"imports/tenant={tenant_id}/snapshots/{audience_key}/{import_id}.parquet"


def run_import_id(audience_id: str, run_id: str) -> str:
    return f"{RUN_PREFIX}{audience_id}-{run_id}"


def run_time_key(moment: float) -> str:
    """The start of every run id created within that second: run ids sort by creation."""
    return f"{datetime.fromtimestamp(moment, UTC):%Y%m%dT%H%M%S}"


def new_run_id(now: float) -> str:
    return f"{run_time_key(now)}{int(now * 1000) % 1000:03d}Z-{secrets.token_hex(4)}"


def uploads(notification: str) -> list[Upload]:
    """The created objects an S3 notification (an SQS message body) reports; none for S3's test event."""
    document = json.loads(notification)
    found = []
    for record in document.get("Records", []):
        if not record.get("eventName", "").startswith("ObjectCreated"):
            continue
        s3 = record["s3"]
        etag = s3["object"].get("eTag", "")
        found.append(
            Upload(
                bucket=s3["bucket"]["name"],
                key=unquote_plus(s3["object"]["key"]),
                etag=etag if etag.startswith('"') else f'"{etag}"',
                size=int(s3["object"].get("size", 0)),
                uploaded_at=datetime.fromisoformat(record["eventTime"]).timestamp(),
            )
        )
    return found


def runs(message: str) -> list[Run]:
    """The run a queued message asks for; none for an S3 notification."""
    document = json.loads(message)
    return [Run(**document["run"])] if "run" in document else []


def reconfirms(message: str) -> list[Reconfirm]:
    document = json.loads(message)
    return [Reconfirm(**document["reconfirm"])] if "reconfirm" in document else []


def chunks(message: str) -> list[Chunk]:
    document = json.loads(message)
    return [Chunk(**document["chunk"])] if "chunk" in document else []
