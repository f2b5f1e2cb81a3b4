"""ODP's audience files in the imports bucket: `<tenant>/audience-diffs/<segment id>.csv.gz` ("import
audiences without disqualify events"), each one the complete list of the segment it names."""

from __future__ import annotations

from audiences import importer
from audiences.domain import AUDIENCE_KEY
from audiences.importer import Located, MultipartTarget, UploadTarget

FOLDER = "audience-diffs"
SUFFIX = ".csv.gz"


def upload_key(tenant_id: str, segment_id: str) -> str:
    return f"{tenant_id}/{FOLDER}/{segment_id}{SUFFIX}"


def upload_target(tenant_id: str, segment_id: str, parts: int | None) -> UploadTarget | MultipartTarget:
    """Where to PUT the segment's next file: one URL, or one per part of a multipart upload."""
    key = upload_key(tenant_id, segment_id)
    if parts is None:
        return importer.upload_target(tenant_id, segment_id, key)
    return importer.multipart_upload_target(tenant_id, segment_id, key, parts)


def complete_upload(tenant_id: str, segment_id: str, upload_id: str, parts: list[tuple[int, str]]) -> tuple[str, str]:
    """The key and ETag of the file a completed multipart upload assembled: its import starts."""
    key = upload_key(tenant_id, segment_id)
    return key, importer.complete_multipart_upload(tenant_id, segment_id, key, upload_id, parts)


class AudienceDiffs:
    """The layout the importer reads ODP's upload keys by."""

    def locate(self, key: str) -> Located | None:
        parts = key.split("/")
        if len(parts) < 2 or parts[1] != FOLDER:
            return None  # not an ODP audience file: another dialect's, or nothing of ours
        segment_id = "/".join(parts[2:]).removesuffix(SUFFIX)
        return Located(segment_id, _problem(parts, segment_id))


def _problem(parts: list[str], segment_id: str) -> str | None:
    expected = f"name the file <tenant>/{FOLDER}/<segment id>{SUFFIX}"
    if len(parts) != 3 or not parts[2]:
        return f"the key has no file name directly under {FOLDER}/: {expected}"
    if not parts[2].endswith(SUFFIX):
        return f"the file name does not end in {SUFFIX}: {expected}"
    if not AUDIENCE_KEY.fullmatch(segment_id):
        return f"{segment_id!r} is not a segment id (a-z, 0-9, _): {expected}"
    return None


LAYOUT = AudienceDiffs()
