"""S3 objects of imports: uploaded files, member snapshots, and upload URLs."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from botocore.exceptions import ClientError

from audiences.settings import get_settings
from audiences.stores import clients


class UploadReplaced(Exception):
    """The object at the upload's key is no longer the upload: a newer one replaced or removed it."""


def open_upload(bucket: str, key: str, etag: str) -> BinaryIO:
    """The upload's bytes as a stream, only if the object is still that upload."""
    try:
        return clients.s3().get_object(Bucket=bucket, Key=key, IfMatch=etag)["Body"]
    except ClientError as error:
        if error.response["Error"]["Code"] in ("PreconditionFailed", "NoSuchKey", "412"):
            raise UploadReplaced(key) from error
        raise


@dataclass(frozen=True)
class SourceObject:
    key: str
    etag: str
    size: int
    uploaded_at: float  # epoch seconds


def source_objects(key: str, folder: bool) -> list[SourceObject]:
    """The object at `key`, or every object under it if it is a folder, in key order."""
    pages = (
        clients.s3()
        .get_paginator("list_objects_v2")
        .paginate(Bucket=get_settings().imports_bucket, Prefix=f"{key.rstrip('/')}/" if folder else key)
    )
    return [
        SourceObject(item["Key"], item["ETag"], item["Size"], item["LastModified"].timestamp())
        for page in pages
        for item in page.get("Contents", [])
        if folder or item["Key"] == key
    ]


def snapshot_values(key: str) -> Iterator[str]:
    """The sorted member values a snapshot holds, streamed."""
    body = clients.s3().get_object(Bucket=get_settings().data_bucket, Key=key)["Body"]
    with gzip.open(body, "rt", encoding="utf-8", newline="\n") as lines:
        for line in lines:
            yield line[:-1]


def put_snapshot(key: str, path: Path) -> None:
    clients.s3().upload_file(str(path), get_settings().data_bucket, key)


def delete_snapshot(key: str) -> None:
    clients.s3().delete_object(Bucket=get_settings().data_bucket, Key=key)


def upload_url(key: str, expires_seconds: int) -> str:
    """A presigned PUT for the imports bucket: the uploader needs no AWS credentials."""
    return clients.s3().generate_presigned_url(
        "put_object", Params={"Bucket": get_settings().imports_bucket, "Key": key}, ExpiresIn=expires_seconds
    )
