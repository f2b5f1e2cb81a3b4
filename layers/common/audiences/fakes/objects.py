"""The imports and data buckets in memory. An upload (a PUT, or a completed multipart upload) is announced on
the imports queue as S3's notification of it, as the template wires the bucket to the queue."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, quote_plus

from audiences.ports.objects import Bucket, NoSuchUpload, PartsRejected, SourceObject, StoredObject, UploadReplaced
from audiences.settings import get_settings

MIN_PART_BYTES = 5 * 1024 * 1024  # S3's smallest part, the last one excepted


@dataclass(frozen=True)
class _Upload:
    data: bytes
    etag: str
    uploaded_at: float


def _etag(data: bytes) -> str:
    return f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'


class InMemoryObjects:
    def __init__(self, announce: Callable[[str], None]) -> None:
        self._announce = announce
        self._lock = threading.Lock()
        self._uploads: dict[str, _Upload] = {}
        self._data: dict[str, bytes] = {}
        self._multipart: dict[str, tuple[str, dict[int, tuple[str, bytes]]]] = {}  # id -> key, parts

    def upload(self, key: str, data: bytes) -> str:
        """What a PUT to an upload URL does: store the file, announce it; its ETag."""
        return self._uploaded(key, data, _etag(data))

    def _uploaded(self, key: str, data: bytes, etag: str) -> str:
        now = time.time()
        with self._lock:
            self._uploads[key] = _Upload(data, etag, now)
        record = {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "eventTime": datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds"),
            "eventName": "ObjectCreated:Put",
            "s3": {
                "bucket": {"name": get_settings().imports_bucket},
                "object": {"key": quote_plus(key), "size": len(data), "eTag": etag.strip('"')},
            },
        }
        self._announce(json.dumps({"Records": [record]}))
        return etag

    def remove_upload(self, key: str) -> None:
        with self._lock:
            self._uploads.pop(key, None)

    def open_upload(self, bucket: str, key: str, etag: str) -> BinaryIO:
        with self._lock:
            upload = self._uploads.get(key) if bucket == get_settings().imports_bucket else None
        if upload is None or upload.etag != etag:
            raise UploadReplaced(key)
        return io.BytesIO(upload.data)

    def source_objects(self, key: str, folder: bool) -> list[SourceObject]:
        prefix = f"{key.rstrip('/')}/" if folder else key
        with self._lock:
            found = sorted((k, u) for k, u in self._uploads.items() if (k.startswith(prefix) if folder else k == key))
        return [SourceObject(k, u.etag, len(u.data), u.uploaded_at) for k, u in found]

    def download_snapshot(self, key: str, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / key.rsplit("/", 1)[-1]
        path.write_bytes(self.get_data(key))
        return path

    def put_snapshot(self, key: str, path: Path) -> None:
        self.put_data(key, path.read_bytes())

    def put_data(self, key: str, body: bytes) -> None:
        with self._lock:
            self._data[key] = body

    def get_data(self, key: str) -> bytes:
        with self._lock:
            return self._data[key]

    def get_range(self, key: str, start: int, end: int) -> bytes:
        return self.get_data(key)[start:end]

    def delete_data(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def data_keys(self) -> list[str]:
        with self._lock:
            return sorted(self._data)

    def upload_url(self, key: str, expires_seconds: int) -> str:
        return f"memory://{get_settings().imports_bucket}/{quote(key)}?expires={int(time.time()) + expires_seconds}"

    def create_multipart(self, key: str) -> str:
        upload_id = uuid.uuid4().hex
        with self._lock:
            self._multipart[upload_id] = (key, {})
        return upload_id

    def part_url(self, key: str, upload_id: str, part_number: int, expires_seconds: int) -> str:
        return f"{self.upload_url(key, expires_seconds)}&uploadId={upload_id}&partNumber={part_number}"

    def upload_part(self, upload_id: str, part_number: int, data: bytes) -> str:
        """What a PUT to a part URL does; the part's ETag."""
        with self._lock:
            if upload_id not in self._multipart:
                raise NoSuchUpload(upload_id)
            self._multipart[upload_id][1][part_number] = (etag := _etag(data), data)
        return etag

    def complete_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> str:
        with self._lock:
            if upload_id not in self._multipart or self._multipart[upload_id][0] != key:
                raise NoSuchUpload(upload_id)
            uploaded = self._multipart[upload_id][1]
            numbers = [number for number, _ in parts]
            if numbers != sorted(set(numbers)):
                raise PartsRejected("InvalidPartOrder: The list of parts was not in ascending order.")
            if any(uploaded.get(number, ("",))[0] != etag for number, etag in parts):
                raise PartsRejected("InvalidPart: One or more of the specified parts could not be found.")
            if any(len(uploaded[number][1]) < MIN_PART_BYTES for number in numbers[:-1]):
                raise PartsRejected("EntityTooSmall: Your proposed upload is smaller than the minimum allowed size.")
            del self._multipart[upload_id]
        data = b"".join(uploaded[number][1] for number in numbers)
        digests = b"".join(bytes.fromhex(uploaded[number][0].strip('"')) for number in numbers)
        etag = f'"{hashlib.md5(digests, usedforsecurity=False).hexdigest()}-{len(numbers)}"'
        return self._uploaded(key, data, etag)

    def _bucket(self, bucket: Bucket) -> dict[str, bytes]:
        """A copy of the bucket's objects, key -> bytes (under the lock)."""
        if bucket is Bucket.DATA:
            return dict(self._data)
        return {key: upload.data for key, upload in self._uploads.items()}

    def stored_objects(self, bucket: Bucket, prefix: str, after: str = "") -> Iterator[StoredObject]:
        with self._lock:
            held = self._bucket(bucket)
        for key in sorted(k for k in held if k.startswith(prefix) and k > after):
            yield StoredObject(key, _etag(held[key]), len(held[key]))

    def noncurrent_versions(self, bucket: Bucket, prefix: str) -> Iterator[StoredObject]:
        return iter(())  # the buckets in memory keep no versions

    def delete_version(self, bucket: Bucket, key: str, version_id: str) -> None:
        raise KeyError(f"no version {version_id!r} of {key!r}: the buckets in memory keep none")

    def read_object(self, bucket: Bucket, key: str, version_id: str = "") -> tuple[bytes, str] | None:
        if version_id:
            return None
        with self._lock:
            data = self._bucket(bucket).get(key)
        return None if data is None else (data, _etag(data))

    def download_object(self, bucket: Bucket, key: str, path: Path, version_id: str = "") -> str | None:
        held = self.read_object(bucket, key, version_id)
        if held is None:
            return None
        path.write_bytes(held[0])
        return held[1]

    def replace_object_with_file(self, bucket: Bucket, key: str, path: Path, etag: str) -> bool:
        return self.replace_object(bucket, key, path.read_bytes(), etag)

    def replace_object(self, bucket: Bucket, key: str, body: bytes, etag: str) -> bool:
        with self._lock:
            held = self._bucket(bucket).get(key)
            if held is None or _etag(held) != etag:
                return False
            if bucket is Bucket.DATA:
                self._data[key] = body
                return True
        self._uploaded(key, body, _etag(body))  # a PUT to the imports bucket is announced, as S3 does
        return True

    def erase_object(self, bucket: Bucket, key: str) -> None:
        with self._lock:
            (self._data if bucket is Bucket.DATA else self._uploads).pop(key, None)

    def download_url(self, bucket: Bucket, key: str, expires_seconds: int) -> str:
        return f"memory://{bucket.value}/{quote(key)}?expires={int(time.time()) + expires_seconds}"
