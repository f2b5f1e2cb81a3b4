"""The object store's contract (audiences.ports.objects), on S3 and in memory."""

from __future__ import annotations

import json
from urllib.parse import unquote_plus

import boto3
import pytest

from audiences.fakes.objects import InMemoryObjects
from audiences.ports.objects import Bucket, NoSuchUpload, PartsRejected, UploadReplaced
from audiences.settings import get_settings
from local.provision import REGION
from tests.contract.conftest import received, remove_upload, upload, upload_part


def unfinished_parts(stores) -> list:
    """Multipart uploads begun in the data bucket and neither completed nor aborted (the fake makes none)."""
    if isinstance(stores.objects, InMemoryObjects):
        return []
    s3 = boto3.client("s3", region_name=REGION)
    return s3.list_multipart_uploads(Bucket=get_settings().data_bucket).get("Uploads", [])


def announced(stores) -> list[tuple[str, str, int]]:
    """The uploads announced on the imports queue: key, ETag, size."""
    return [
        (unquote_plus(s3["object"]["key"]), s3["object"]["eTag"].strip('"'), s3["object"]["size"])
        for body in received(stores, "imports")
        for record in json.loads(body).get("Records", [])
        if (s3 := record["s3"]) and record["eventName"].startswith("ObjectCreated")
    ]


def test_an_upload_is_announced_and_read_only_while_it_is_the_object_at_its_key(stores):
    received(stores, "imports")  # S3's test event, from creating the notification
    etag = upload(stores, "demo/a b.csv", b"first")
    assert announced(stores) == [("demo/a b.csv", etag.strip('"'), 5)]
    bucket = get_settings().imports_bucket
    assert stores.objects.open_upload(bucket, "demo/a b.csv", etag).read() == b"first"
    upload(stores, "demo/a b.csv", b"second")
    with pytest.raises(UploadReplaced):
        stores.objects.open_upload(bucket, "demo/a b.csv", etag)
    remove_upload(stores, "demo/a b.csv")
    with pytest.raises(UploadReplaced):
        stores.objects.open_upload(bucket, "demo/a b.csv", etag)


def test_source_objects_are_a_file_or_a_folders_files_in_key_order(stores):
    for key in ("s/drops/b.csv", "s/drops/a.csv", "s/drops.csv", "s/dropsy/c.csv"):
        upload(stores, key, key.encode())
    folder = stores.objects.source_objects("s/drops/", folder=True)
    assert [(o.key, o.size) for o in folder] == [("s/drops/a.csv", 13), ("s/drops/b.csv", 13)]
    assert all(o.etag.startswith('"') and o.uploaded_at > 0 for o in folder)
    assert [o.key for o in stores.objects.source_objects("s/drops.csv", folder=False)] == ["s/drops.csv"]
    assert stores.objects.source_objects("s/drop", folder=False) == []


def test_data_objects_whole_by_range_as_files_and_deleted(stores, tmp_path):
    stores.objects.put_data("imports/x/changes.bin", b"0123456789")
    assert stores.objects.get_data("imports/x/changes.bin") == b"0123456789"
    assert stores.objects.get_range("imports/x/changes.bin", 2, 5) == b"234"
    source = tmp_path / "up.parquet"
    source.write_bytes(b"parquet bytes")
    stores.objects.put_snapshot("imports/x/snap.parquet", source)
    downloaded = stores.objects.download_snapshot("imports/x/snap.parquet", tmp_path / "down")
    assert (downloaded.name, downloaded.read_bytes()) == ("snap.parquet", b"parquet bytes")
    stores.objects.delete_data("imports/x/changes.bin")
    stores.objects.delete_data("imports/x/never-there")
    with pytest.raises(Exception):  # noqa: B017 (each store raises its own: gone is gone)
        stores.objects.get_data("imports/x/changes.bin")


def test_a_multipart_upload_completes_once_from_its_parts_in_order(stores):
    received(stores, "imports")
    part = b"x" * (5 * 1024 * 1024)
    upload_id = stores.objects.create_multipart("demo/big.csv")
    assert stores.objects.part_url("demo/big.csv", upload_id, 2, 60) != stores.objects.part_url(
        "demo/big.csv", upload_id, 1, 60
    )
    etags = [upload_part(stores, "demo/big.csv", upload_id, n, data) for n, data in ((1, part), (2, b"tail"))]
    with pytest.raises(PartsRejected):
        stores.objects.complete_multipart("demo/big.csv", upload_id, [(1, etags[0]), (2, '"0123"')])
    with pytest.raises(NoSuchUpload):
        stores.objects.complete_multipart("demo/other.csv", upload_id, [(1, etags[0]), (2, etags[1])])
    etag = stores.objects.complete_multipart("demo/big.csv", upload_id, [(1, etags[0]), (2, etags[1])])
    assert etag.endswith('-2"')
    assert announced(stores) == [("demo/big.csv", etag.strip('"'), len(part) + 4)]
    assert stores.objects.open_upload(get_settings().imports_bucket, "demo/big.csv", etag).read()[-4:] == b"tail"


def test_a_part_too_small_is_rejected(stores):
    # S3 also refuses parts out of order (InvalidPartOrder), as the fake does; moto accepts them.
    upload_id = stores.objects.create_multipart("demo/big.csv")
    etags = [upload_part(stores, "demo/big.csv", upload_id, n, b"small") for n in (1, 2)]
    with pytest.raises(PartsRejected, match="EntityTooSmall"):
        stores.objects.complete_multipart("demo/big.csv", upload_id, [(1, etags[0]), (2, etags[1])])


def test_an_object_streams_to_a_file_and_is_replaced_from_one_only_while_it_is_unchanged(stores, tmp_path):
    held, replacement = tmp_path / "held", tmp_path / "replacement"
    stores.objects.put_data("imports/tenant=t/snapshots/a/1.parquet", b"first")
    held_key = "imports/tenant=t/snapshots/a/1.parquet"
    etag = stores.objects.download_object(Bucket.DATA, held_key, held)
    assert held.read_bytes() == b"first" and etag == stores.objects.read_object(Bucket.DATA, held_key)[1]
    replacement.write_bytes(b"second")
    assert not stores.objects.replace_object_with_file(Bucket.DATA, held_key, replacement, '"0123"')
    assert stores.objects.get_data(held_key) == b"first"
    assert stores.objects.replace_object_with_file(Bucket.DATA, held_key, replacement, etag)
    assert stores.objects.get_data(held_key) == b"second"
    assert not stores.objects.replace_object_with_file(Bucket.DATA, held_key, replacement, etag)  # no longer that one
    assert stores.objects.download_object(Bucket.DATA, "imports/tenant=t/never-there", held) is None
    assert not stores.objects.replace_object_with_file(Bucket.DATA, "imports/tenant=t/never-there", replacement, etag)


def test_a_file_past_the_largest_put_is_replaced_in_parts_still_only_while_unchanged(stores, tmp_path, monkeypatch):
    from audiences.stores import objects as s3_objects

    monkeypatch.setattr(s3_objects, "SINGLE_PUT_BYTES", 5 * 1024 * 1024)  # S3's is 5 GB
    key, big = "imports/tenant=t/snapshots/a/1.parquet", tmp_path / "big"
    big.write_bytes(b"x" * (5 * 1024 * 1024) + b"tail")
    stores.objects.put_data(key, b"first")
    etag = stores.objects.read_object(Bucket.DATA, key)[1]
    stores.objects.put_data(key, b"changed meanwhile")
    assert not stores.objects.replace_object_with_file(Bucket.DATA, key, big, etag)
    assert stores.objects.get_data(key) == b"changed meanwhile"
    assert not unfinished_parts(stores)  # a refused upload's parts are not left to cost storage
    etag = stores.objects.read_object(Bucket.DATA, key)[1]
    assert stores.objects.replace_object_with_file(Bucket.DATA, key, big, etag)
    assert stores.objects.get_data(key) == big.read_bytes()
