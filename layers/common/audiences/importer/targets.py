"""Where uploaders put files: presigned URLs, single or in parts, for keys each dialect lays out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from audiences import catalog
from audiences.errors import InvalidInput, NotFound
from audiences.importer.messages import source_key
from audiences.ports.objects import NoSuchUpload, PartsRejected
from audiences.wiring import stores

UPLOAD_URL_SECONDS = 15 * 60  # long enough for a large upload, short enough to be worthless if leaked
MULTIPART_URL_SECONDS = 6 * 60 * 60  # parts of a file of many GB upload for hours
MAX_PARTS = 10_000  # S3's most parts of a multipart upload (each 5 MiB to 5 GiB, the last smaller)


@dataclass(frozen=True)
class UploadTarget:
    url: str  # a presigned PUT: the uploader needs no AWS credentials
    key: str
    expires_at: datetime


@dataclass(frozen=True)
class MultipartTarget:
    key: str
    upload_id: str
    part_urls: list[str]  # part n (from 1) is PUT to part_urls[n - 1]
    expires_at: datetime


def upload_target(tenant_id: str, audience_key: str, key: str) -> UploadTarget:
    """Where to PUT the audience's next file, at `key`; NotFound if there is no such audience."""
    catalog.get_audience(tenant_id, audience_key)  # no URL for a file that could only fail
    expires_at = datetime.now(UTC) + timedelta(seconds=UPLOAD_URL_SECONDS)
    return UploadTarget(stores().objects.upload_url(key, UPLOAD_URL_SECONDS), key, expires_at)


def multipart_upload_target(tenant_id: str, audience_key: str, key: str, parts: int) -> MultipartTarget:
    """A multipart upload of the audience's next file at `key`, one presigned URL per part; NotFound if
    there is no such audience. The import starts when the upload is completed."""
    catalog.get_audience(tenant_id, audience_key)
    upload_id = stores().objects.create_multipart(key)
    urls = [stores().objects.part_url(key, upload_id, n, MULTIPART_URL_SECONDS) for n in range(1, parts + 1)]
    return MultipartTarget(key, upload_id, urls, datetime.now(UTC) + timedelta(seconds=MULTIPART_URL_SECONDS))


def complete_multipart_upload(
    tenant_id: str, audience_key: str, key: str, upload_id: str, parts: list[tuple[int, str]]
) -> str:
    """Assemble a multipart upload's parts (number, ETag as S3 answered each PUT); the object's ETag.
    NotFound if there is no such upload of that audience; InvalidInput naming what S3 refused."""
    catalog.get_audience(tenant_id, audience_key)
    try:
        return stores().objects.complete_multipart(key, upload_id, parts)
    except NoSuchUpload as missing:
        raise NotFound(
            f"there is no multipart upload {upload_id!r} of audience {audience_key!r}: it was completed or aborted "
            "already, or belongs to another audience; ask for a new upload URL"
        ) from missing
    except PartsRejected as refused:
        raise InvalidInput(
            f"S3 refused the parts ({refused}): list every part you uploaded, in order, each with the ETag "
            "its PUT answered; every part but the last must be at least 5 MiB"
        ) from refused


def source_upload_target(tenant_id: str, path: str) -> UploadTarget:
    """A presigned PUT of one source file; uploading it starts nothing (a run reads it later)."""
    key = source_key(tenant_id, path)
    expires_at = datetime.now(UTC) + timedelta(seconds=UPLOAD_URL_SECONDS)
    return UploadTarget(stores().objects.upload_url(key, UPLOAD_URL_SECONDS), key, expires_at)
