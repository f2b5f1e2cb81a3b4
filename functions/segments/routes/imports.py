"""/v3/imports: the activity log of audience file imports, and presigned upload URLs."""

import time

from aws_lambda_powertools.event_handler.api_gateway import Router

from audiences import catalog, importer
from audiences.domain import Scope
from audiences.errors import NotFound
from audiences.odp import http
from audiences.odp import imports as odp_imports
from audiences.stores import imports as import_store
from audiences.stores import objects

router = Router()


@router.get("/v3/imports")
def list_imports():
    principal = http.authenticate(router, Scope.PRIVATE)
    audience, status, cursor, limit = odp_imports.page_arguments(router.current_event.query_string_parameters)
    records, next_cursor = import_store.page(principal.tenant_id, audience, status, cursor, limit)
    return {"imports": [odp_imports.record_body(record) for record in records], "next_cursor": next_cursor}


@router.get("/v3/imports/<import_id>")
def get_import(import_id: str):
    principal = http.authenticate(router, Scope.PRIVATE)
    record = import_store.get(principal.tenant_id, import_id)
    if record is None:
        raise NotFound(f"import {import_id!r} does not exist")
    return odp_imports.record_body(record)


@router.post("/v3/imports/upload-url")
def create_upload_url():
    principal = http.authenticate(router, Scope.PRIVATE)
    segment_id = odp_imports.upload_request(router.current_event.body)
    catalog.get_audience(principal.tenant_id, segment_id)  # 404 before handing out a URL for nothing
    key = importer.upload_key(principal.tenant_id, segment_id)
    expires_at = time.time() + odp_imports.UPLOAD_URL_SECONDS
    return {
        "url": objects.upload_url(key, odp_imports.UPLOAD_URL_SECONDS),
        "method": "PUT",
        "key": key,
        "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires_at)),
    }
