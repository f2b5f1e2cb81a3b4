"""S3 objects of imports: uploaded files, member snapshots, apply chunks, and upload URLs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from botocore.exceptions import ClientError

from audiences.ports.objects import Bucket, NoSuchUpload, PartsRejected, SourceObject, StoredObject, UploadReplaced
from audiences.settings import get_settings
from audiences.stores import clients

SINGLE_PUT_BYTES = 5 * 1024**3  # S3's largest PutObject; a larger file goes in parts
PART_BYTES = 64 * 1024**2  # a part held at a time; 10,000 parts (S3's most) make 640 GB
_PIECE_BYTES = 8 * 1024**2  # written to a file at a time
# What a write conditioned on an ETag answers when the object is another one now, or gone.
_REFUSED = ("PreconditionFailed", "412", "NoSuchKey", "404", "ConditionalRequestConflict")


def open_upload(bucket: str, key: str, etag: str) -> BinaryIO:
    """The upload's bytes as a stream, only if the object is still that upload."""
    try:
        return clients.s3().get_object(Bucket=bucket, Key=key, IfMatch=etag)["Body"]
    except ClientError as error:
        if error.response["Error"]["Code"] in ("PreconditionFailed", "NoSuchKey", "412"):
            raise UploadReplaced(key) from error
        raise


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


def download_snapshot(key: str, directory: Path) -> Path:
    """The snapshot at `key` as a local file named like it (its format is in its name)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / key.rsplit("/", 1)[-1]
    clients.s3().download_file(get_settings().data_bucket, key, str(path))
    return path


def put_snapshot(key: str, path: Path) -> None:
    clients.s3().upload_file(str(path), get_settings().data_bucket, key)


def put_data(key: str, body: bytes) -> None:
    clients.s3().put_object(Bucket=get_settings().data_bucket, Key=key, Body=body)


def get_data(key: str) -> bytes:
    return clients.s3().get_object(Bucket=get_settings().data_bucket, Key=key)["Body"].read()


def get_range(key: str, start: int, end: int) -> bytes:
    """Bytes [start, end) of an object: one ranged GET."""
    answer = clients.s3().get_object(Bucket=get_settings().data_bucket, Key=key, Range=f"bytes={start}-{end - 1}")
    return answer["Body"].read()


def delete_data(key: str) -> None:
    clients.s3().delete_object(Bucket=get_settings().data_bucket, Key=key)


def upload_url(key: str, expires_seconds: int) -> str:
    """A presigned PUT for the imports bucket: the uploader needs no AWS credentials."""
    return clients.s3().generate_presigned_url(
        "put_object", Params={"Bucket": get_settings().imports_bucket, "Key": key}, ExpiresIn=expires_seconds
    )


def create_multipart(key: str) -> str:
    """Start a multipart upload to the imports bucket; its upload id."""
    return clients.s3().create_multipart_upload(Bucket=get_settings().imports_bucket, Key=key)["UploadId"]


def part_url(key: str, upload_id: str, part_number: int, expires_seconds: int) -> str:
    """A presigned PUT of one part of a multipart upload."""
    params = {"Bucket": get_settings().imports_bucket, "Key": key, "UploadId": upload_id, "PartNumber": part_number}
    return clients.s3().generate_presigned_url("upload_part", Params=params, ExpiresIn=expires_seconds)


def complete_multipart(key: str, upload_id: str, parts: list[tuple[int, str]]) -> str:
    """Assemble the uploaded parts (number, ETag) into the object, which S3 then announces; its ETag."""
    try:
        done = clients.s3().complete_multipart_upload(
            Bucket=get_settings().imports_bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": number, "ETag": etag} for number, etag in parts]},
        )
    except ClientError as error:
        code, message = error.response["Error"]["Code"], error.response["Error"].get("Message", "")
        if code == "NoSuchUpload":
            raise NoSuchUpload(upload_id) from error
        if code in ("InvalidPart", "InvalidPartOrder", "EntityTooSmall", "MalformedXML", "InvalidRequest"):
            raise PartsRejected(f"{code}: {message}") from error
        raise
    return done["ETag"]


def _name(bucket: Bucket) -> str:
    return get_settings().data_bucket if bucket is Bucket.DATA else get_settings().imports_bucket


def stored_objects(bucket: Bucket, prefix: str, after: str = "") -> Iterator[StoredObject]:
    pages = (
        clients.s3().get_paginator("list_objects_v2").paginate(Bucket=_name(bucket), Prefix=prefix, StartAfter=after)
    )
    for page in pages:
        for item in page.get("Contents", []):
            yield StoredObject(item["Key"], item["ETag"], item["Size"])


def read_object(bucket: Bucket, key: str, version_id: str = "") -> tuple[bytes, str] | None:
    version = {"VersionId": version_id} if version_id else {}
    try:
        answer = clients.s3().get_object(Bucket=_name(bucket), Key=key, **version)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None
        raise
    return answer["Body"].read(), answer["ETag"]


def replace_object(bucket: Bucket, key: str, body: bytes, etag: str) -> bool:
    """One conditional PUT (If-Match): a concurrent rewrite, or a removal, makes it refuse. Where the bucket
    keeps versions, the ones before it are deleted: the rewrite is there to leave nothing of the old."""
    try:
        written = clients.s3().put_object(Bucket=_name(bucket), Key=key, Body=body, IfMatch=etag)
    except ClientError as error:
        if error.response["Error"]["Code"] in _REFUSED:
            return False
        raise
    if written.get("VersionId"):
        _delete_versions(bucket, key, keep=written["VersionId"])
    return True


def download_object(bucket: Bucket, key: str, path: Path, version_id: str = "") -> str | None:
    """One GET, its body written to the file a piece at a time: the bytes and the ETag are of one version."""
    version = {"VersionId": version_id} if version_id else {}
    try:
        answer = clients.s3().get_object(Bucket=_name(bucket), Key=key, **version)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchKey", "NoSuchVersion", "404"):
            return None
        raise
    with path.open("wb") as out:
        for piece in answer["Body"].iter_chunks(_PIECE_BYTES):
            out.write(piece)
    return answer["ETag"]


def replace_object_with_file(bucket: Bucket, key: str, path: Path, etag: str) -> bool:
    """A PutObject streaming the file, conditioned on the ETag (If-Match); past SINGLE_PUT_BYTES a multipart
    upload whose completion is conditioned so (S3 checks If-Match on CompleteMultipartUpload too)."""
    try:
        if path.stat().st_size <= SINGLE_PUT_BYTES:
            with path.open("rb") as body:
                written = clients.s3().put_object(Bucket=_name(bucket), Key=key, Body=body, IfMatch=etag)
        else:
            written = _put_in_parts(bucket, key, path, etag)
    except ClientError as error:
        if error.response["Error"]["Code"] in _REFUSED:
            return False
        raise
    if written.get("VersionId"):
        _delete_versions(bucket, key, keep=written["VersionId"])
    return True


def _put_in_parts(bucket: Bucket, key: str, path: Path, etag: str) -> dict:
    """The file in parts of PART_BYTES, completed only if the object is still the one of `etag`; a refused or
    failed upload is aborted, so its parts do not stay (the lifecycle rule would take them in days)."""
    s3, name = clients.s3(), _name(bucket)
    upload_id = s3.create_multipart_upload(Bucket=name, Key=key)["UploadId"]
    try:
        parts = []
        with path.open("rb") as body:
            while part := body.read(PART_BYTES):
                number = len(parts) + 1
                sent = s3.upload_part(Bucket=name, Key=key, UploadId=upload_id, PartNumber=number, Body=part)
                parts.append({"PartNumber": number, "ETag": sent["ETag"]})
        return s3.complete_multipart_upload(
            Bucket=name, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}, IfMatch=etag
        )
    except BaseException:
        with contextlib.suppress(ClientError):
            s3.abort_multipart_upload(Bucket=name, Key=key, UploadId=upload_id)
        raise


def _delete_versions(bucket: Bucket, key: str, keep: str = "") -> None:
    """Every version and delete marker of exactly `key` but `keep`, each deleted by its version id; in a
    bucket that never kept versions there is only the one a plain delete removes ("null")."""
    s3, name = clients.s3(), _name(bucket)
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=name, Prefix=key)
    versions = [
        v["VersionId"]
        for page in pages
        for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        if v["Key"] == key
    ]
    if versions == ["null"]:
        return
    for version_id in versions:
        if version_id != keep:  # "null" too: an object from before versioning was turned on
            s3.delete_object(Bucket=name, Key=key, VersionId=version_id)


def noncurrent_versions(bucket: Bucket, prefix: str) -> Iterator[StoredObject]:
    for page in clients.s3().get_paginator("list_object_versions").paginate(Bucket=_name(bucket), Prefix=prefix):
        for version in page.get("Versions", []):
            if not version["IsLatest"]:
                yield StoredObject(version["Key"], version["ETag"], version["Size"], version["VersionId"])


def delete_version(bucket: Bucket, key: str, version_id: str) -> None:
    clients.s3().delete_object(Bucket=_name(bucket), Key=key, VersionId=version_id)


def erase_object(bucket: Bucket, key: str) -> None:
    """Every version and delete marker of exactly `key`; then the key itself."""
    _delete_versions(bucket, key)
    clients.s3().delete_object(Bucket=_name(bucket), Key=key)


def download_url(bucket: Bucket, key: str, expires_seconds: int) -> str:
    return clients.s3().generate_presigned_url(
        "get_object", Params={"Bucket": _name(bucket), "Key": key}, ExpiresIn=expires_seconds
    )
