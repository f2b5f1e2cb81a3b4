"""An upload: an audience's complete list as one object in the imports bucket, its notification starting
the import. Which keys are audience files, and of which audience, is the dialect's layout."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Protocol

from aws_lambda_powertools import Logger

from audiences.domain import TENANT_ID, ImportRecord, ImportStatus, Tenant
from audiences.importer import records
from audiences.importer.messages import Upload
from audiences.importer.planning import MemberList, file_context, import_list, resume_or_import
from audiences.member_files import FileReader
from audiences.ports.objects import UploadReplaced
from audiences.wiring import stores

logger = Logger(child=True)


@dataclass(frozen=True)
class Located:
    """The audience an object key names, and why the file cannot be imported, if it cannot."""

    audience_key: str
    problem: str | None = None  # said to the uploader on the import's record


class UploadLayout(Protocol):
    """A dialect's keys for audience files in the imports bucket."""

    def locate(self, key: str) -> Located | None:
        """The audience `key` (tenant first) names; None if it is not one of the dialect's audience files."""


def open_record(upload: Upload, layout: UploadLayout) -> tuple[Tenant, str, ImportRecord] | None:
    """The upload's tenant, audience key and activity record (created on first sight); None if it is not
    an audience file of a tenant."""
    located = layout.locate(upload.key)
    if located is None:
        logger.info("object that is no audience file ignored", extra={"bucket": upload.bucket})
        return None
    tenant = stores().tenants.get_tenant(upload.tenant_id) if TENANT_ID.fullmatch(upload.tenant_id) else None
    if tenant is None:
        logger.warning("upload for an unknown tenant ignored")
        return None
    wanted = ImportRecord(
        import_id=upload.import_id, audience=located.audience_key, source=upload.key, as_of=upload.uploaded_at
    )
    record = stores().imports.begin(tenant.tenant_id, wanted)
    logger.append_keys(tenant=tenant.tenant_id, import_id=record.import_id)
    return tenant, located.audience_key, record


def process(upload: Upload, read_file: FileReader, layout: UploadLayout) -> ImportRecord | None:
    """Apply one upload, its key read by the dialect's `layout` and its file by `read_file`; None if it is
    not an audience file of a tenant."""
    opened = open_record(upload, layout)
    if opened is None:
        return None
    tenant, audience_key, record = opened
    if record.status is not ImportStatus.PROCESSING:
        return record  # a second delivery of a finished upload
    if problem := layout.locate(upload.key).problem:
        return records.end(tenant.tenant_id, record, ImportStatus.FAILED, message=problem)
    read = partial(_read_upload, tenant, audience_key, upload, record, read_file)
    return resume_or_import(record, tenant.tenant_id, audience_key, read)


def _read_upload(
    tenant: Tenant, audience_key: str, upload: Upload, record: ImportRecord, read_file: FileReader
) -> ImportRecord:
    tenant_id = tenant.tenant_id
    audience = stores().catalog.get_audience(tenant_id, audience_key)
    if audience is None:
        message = f"there is no audience {audience_key!r}: create it, then upload the file again"
        return records.end(tenant_id, record, ImportStatus.FAILED, message=message)
    previous = stores().imports.state(tenant_id, audience_key)
    if previous is not None and previous.import_id == record.import_id:
        return records.end(tenant_id, record, ImportStatus.SUCCESS)  # applied before a crash; only the record was left
    if previous is not None and previous.as_of >= upload.uploaded_at:
        message = f"superseded: the newer upload of import {previous.import_id} is already applied"
        return records.end(tenant_id, record, ImportStatus.SKIPPED, message=message)
    try:
        body = stores().objects.open_upload(upload.bucket, upload.key, upload.etag)
    except UploadReplaced:
        message = "superseded: the file was replaced (or deleted) before it was processed; a newer upload decides"
        return records.end(tenant_id, record, ImportStatus.SKIPPED, message=message)
    members = read_file(body, upload.size, file_context(tenant, audience))
    return import_list(MemberList(tenant, audience, record, upload.uploaded_at, members, previous))
