"""/v3/imports: the activity log of audience file imports, and presigned upload URLs (single or multipart)."""

from aws_lambda_powertools.event_handler.api_gateway import Router

from audiences import importer
from audiences.domain import Scope
from audiences.odp import http
from audiences.odp import imports as odp_imports
from audiences.odp import uploads as odp_uploads
from audiences.openapi import json_body

router = Router()
DOCS = {"tags": ["ODP audience file imports"], "security": http.SECURITY}


@router.get("/v3/imports", summary="List the imports, newest first", **DOCS)
def list_imports():
    principal = http.authenticate(router, Scope.PRIVATE)
    audience, status, cursor, limit = odp_imports.page_arguments(router.current_event.query_string_parameters)
    records, next_cursor = importer.activity(principal.tenant_id, audience, status, cursor, limit)
    return {"imports": [odp_imports.record_body(record) for record in records], "next_cursor": next_cursor}


@router.get("/v3/imports/<import_id>", summary="Get one import", **DOCS)
def get_import(import_id: str):
    principal = http.authenticate(router, Scope.PRIVATE)
    return odp_imports.record_body(importer.activity_record(principal.tenant_id, import_id))


@router.post(
    "/v3/imports/upload-url",
    summary="Get a presigned URL to upload an audience file (or its parts)",
    openapi_extensions=json_body({"audience": "vip_users"}, 'The segment id; add "parts": n for a multipart upload.'),
    **DOCS,
)
def create_upload_url():
    principal = http.authenticate(router, Scope.PRIVATE)
    segment_id, parts = odp_imports.upload_request(http.json_text(router))
    return odp_imports.target_body(odp_uploads.upload_target(principal.tenant_id, segment_id, parts))


@router.post(
    "/v3/imports/upload-url/complete",
    summary="Complete a multipart upload",
    openapi_extensions=json_body(
        {
            "audience": "vip_users",
            "upload_id": "<as upload-url answered>",
            "parts": [{"part_number": 1, "etag": "<ETag>"}],
        },
        "The upload, and each part's number with the ETag its PUT answered.",
    ),
    **DOCS,
)
def complete_multipart_upload():
    principal = http.authenticate(router, Scope.PRIVATE)
    segment_id, upload_id, parts = odp_imports.completion_request(http.json_text(router))
    key, etag = odp_uploads.complete_upload(principal.tenant_id, segment_id, upload_id, parts)
    return {"key": key, "etag": etag}
