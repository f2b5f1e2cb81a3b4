"""The object store of imports: uploaded files (the imports bucket), and member snapshots and apply chunks (the
data bucket)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO, Protocol


class UploadReplaced(Exception):
    """The object at the upload's key is no longer the upload: a newer one replaced or removed it."""


class NoSuchUpload(Exception):
    """The multipart upload does not exist: never created, completed already, or aborted."""


class PartsRejected(Exception):
    """The parts named for completing a multipart upload were refused; the message says why."""


@dataclass(frozen=True)
class SourceObject:
    key: str
    etag: str
    size: int
    uploaded_at: float  # epoch seconds


class Bucket(StrEnum):
    DATA = "data"  # the event archive, snapshots, apply chunks, privacy exports
    IMPORTS = "imports"  # uploaded files


@dataclass(frozen=True)
class StoredObject:
    key: str
    etag: str
    size: int
    version_id: str = ""  # a noncurrent version's (where the bucket keeps versions)


class ObjectStore(Protocol):
    def open_upload(self, bucket: str, key: str, etag: str) -> BinaryIO:
        """The upload's bytes as a stream, only if the object is still that upload; else UploadReplaced."""
        ...

    def source_objects(self, key: str, folder: bool) -> list[SourceObject]:
        """The uploaded object at `key`, or every object under it if it is a folder, in key order."""
        ...

    def download_snapshot(self, key: str, directory: Path) -> Path:
        """The snapshot at `key` as a local file named like it (its format is in its name)."""
        ...

    def put_snapshot(self, key: str, path: Path) -> None: ...

    def put_data(self, key: str, body: bytes) -> None: ...

    def get_data(self, key: str) -> bytes: ...

    def get_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes [start, end) of an object."""
        ...

    def delete_data(self, key: str) -> None:
        """Delete the object, if there is one."""
        ...

    def upload_url(self, key: str, expires_seconds: int) -> str:
        """A URL an uploader PUTs the file at `key` to, without AWS credentials."""
        ...

    def create_multipart(self, key: str) -> str:
        """Start a multipart upload to `key`; its upload id."""
        ...

    def part_url(self, key: str, upload_id: str, part_number: int, expires_seconds: int) -> str:
        """A URL to PUT one part of a multipart upload to."""
        ...

    def complete_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> str:
        """Assemble the uploaded parts (number, ETag) into the object, which is then announced as an upload; its
        ETag. NoSuchUpload, or PartsRejected saying why."""
        ...

    def stored_objects(self, bucket: Bucket, prefix: str, after: str = "") -> Iterator[StoredObject]:
        """Every object under `prefix` whose key sorts after `after`, in key order, listed a page at a time."""
        ...

    def read_object(self, bucket: Bucket, key: str, version_id: str = "") -> tuple[bytes, str] | None:
        """The object's bytes and ETag (of one of its noncurrent versions, if named); None if there is none."""
        ...

    def download_object(self, bucket: Bucket, key: str, path: Path, version_id: str = "") -> str | None:
        """The object (one of its noncurrent versions, if named) written to the file at `path` as it is read,
        never held whole; its ETag, or None if there is none."""
        ...

    def noncurrent_versions(self, bucket: Bucket, prefix: str) -> Iterator[StoredObject]:
        """Every noncurrent version under `prefix`, where the bucket keeps versions (none where it does not)."""
        ...

    def delete_version(self, bucket: Bucket, key: str, version_id: str) -> None: ...

    def replace_object(self, bucket: Bucket, key: str, body: bytes, etag: str) -> bool:
        """Overwrite the object only if it is still the one of `etag`; whether it was."""
        ...

    def replace_object_with_file(self, bucket: Bucket, key: str, path: Path, etag: str) -> bool:
        """Overwrite the object with the file at `path`, sent as it is read, only if the object is still the one
        of `etag`; whether it was. As replace_object, whatever the file's size."""
        ...

    def erase_object(self, bucket: Bucket, key: str) -> None:
        """Delete the object and every earlier version of it (where the bucket keeps versions)."""
        ...

    def download_url(self, bucket: Bucket, key: str, expires_seconds: int) -> str:
        """A URL that GETs the object without AWS credentials, until it expires."""
        ...
