"""Privacy marks and requests in the tenants table: a tenant's secret and marks share one partition (one
Query reads them), its requests another, keyed by ids that sort by creation."""

from __future__ import annotations

import json
from dataclasses import fields

from pynamodb.exceptions import DeleteError, PutError, UpdateError

from audiences.errors import Conflict
from audiences.ports.privacy import Kind, Mark, PrivacyRequest, Screening, Status
from audiences.stores.conditions import condition_failed
from audiences.stores.models import PrivacyItem, PrivacyRequestItem

_SECRET = "SECRET"
_MARK = "MARK#"


def _marks_pk(tenant_id: str) -> str:
    return f"PRIVACY#{tenant_id}"


def _requests_pk(tenant_id: str) -> str:
    return f"REQUESTS#{tenant_id}"


def screening(tenant_id: str) -> Screening:
    secret, marks = None, {}
    for item in PrivacyItem.query(_marks_pk(tenant_id)):
        if item.sk == _SECRET:
            secret = item.secret
        else:
            erased_at = float(item.erased_at) if item.erased_at is not None else None
            marks[item.sk.removeprefix(_MARK)] = Mark(float(item.suppressed_until or 0), erased_at)
    return Screening(secret, marks)


def secret(tenant_id: str) -> bytes | None:
    try:
        return PrivacyItem.get(_marks_pk(tenant_id), _SECRET, consistent_read=True).secret
    except PrivacyItem.DoesNotExist:
        return None


def create_secret(tenant_id: str, secret: bytes, now: float) -> bytes:
    try:
        PrivacyItem(_marks_pk(tenant_id), _SECRET, secret=secret, created_at=now).save(
            condition=PrivacyItem.pk.does_not_exist()
        )
        return secret
    except PutError as error:
        if not condition_failed(error):
            raise
    return PrivacyItem.get(_marks_pk(tenant_id), _SECRET, consistent_read=True).secret


def mark(
    tenant_id: str, hashes: list[str], *, suppressed_until: float | None = None, erased_at: float | None = None
) -> None:
    for digest in hashes:
        item = PrivacyItem(_marks_pk(tenant_id), _MARK + digest)
        if suppressed_until == 0:
            try:  # lifted, and never erased: nothing is left to keep
                item.delete(condition=PrivacyItem.erased_at.does_not_exist())
                continue
            except DeleteError as error:
                if not condition_failed(error):
                    raise
            item.update(actions=[PrivacyItem.suppressed_until.set(0)])
        elif suppressed_until is not None:  # raised, never lowered: a later, shorter request keeps the longer
            _raise(item, PrivacyItem.suppressed_until, suppressed_until)
        if erased_at is not None:  # raised, never lowered: a second erasure keeps the later time
            _raise(item, PrivacyItem.erased_at, erased_at)


def _raise(item: PrivacyItem, attribute, value: float) -> None:
    try:
        item.update(actions=[attribute.set(value)], condition=attribute.does_not_exist() | (attribute < value))
    except UpdateError as error:
        if not condition_failed(error):
            raise


def _request(item: PrivacyRequestItem) -> PrivacyRequest:
    return PrivacyRequest(
        request_id=item.sk,
        kind=Kind(item.kind),
        origin=item.origin,
        sealed_subjects=item.sealed_subjects,
        subject_count=int(item.subject_count),
        created_at=float(item.created_at),
        created_by=item.created_by,
        status=Status(item.status),
        updated_at=float(item.updated_at),
        finished_at=float(item.finished_at) if item.finished_at is not None else None,
        step=item.step,
        position=item.position,
        not_before=float(item.not_before),
        effective_at=float(item.effective_at),
        suppress_days=int(item.suppress_days),
        export_name=item.export_name,
        sealed_attributes=item.sealed_attributes,
        results=json.loads(item.results),
        expires_at=float(item.expires_at) if item.expires_at is not None else None,
    )


def _stored(name: str, value):
    if name == "results":
        return json.dumps(value)
    return value.value if isinstance(value, Kind | Status) else value


def put_request(tenant_id: str, request: PrivacyRequest) -> None:
    values = {f.name: _stored(f.name, getattr(request, f.name)) for f in fields(request) if f.name != "request_id"}
    item = PrivacyRequestItem(_requests_pk(tenant_id), request.request_id, **values)
    try:
        item.save(condition=PrivacyRequestItem.pk.does_not_exist())
    except PutError as error:
        if condition_failed(error):
            raise Conflict(f"privacy request {request.request_id!r} exists") from error
        raise


def get_request(tenant_id: str, request_id: str) -> PrivacyRequest | None:
    try:
        return _request(PrivacyRequestItem.get(_requests_pk(tenant_id), request_id, consistent_read=True))
    except PrivacyRequestItem.DoesNotExist:
        return None


def requests(
    tenant_id: str, after: str | None, limit: int, newest_first: bool = False
) -> tuple[list[PrivacyRequest], bool]:
    start = {"pk": {"S": _requests_pk(tenant_id)}, "sk": {"S": after}} if after else None
    items = PrivacyRequestItem.query(
        _requests_pk(tenant_id), scan_index_forward=not newest_first, last_evaluated_key=start, limit=limit + 1
    )
    found = [_request(item) for item in items]
    return found[:limit], len(found) > limit


def count_requests(tenant_id: str) -> int:
    return PrivacyRequestItem.count(_requests_pk(tenant_id))


def update_request(tenant_id: str, request_id: str, expected: set[Status], **changes) -> PrivacyRequest | None:
    attribute = PrivacyRequestItem.get_attributes()
    actions = [attribute[name].set(_stored(name, value)) for name, value in changes.items()]
    try:
        item = PrivacyRequestItem(_requests_pk(tenant_id), request_id)
        item.update(
            actions=actions,
            condition=PrivacyRequestItem.status.is_in(*(status.value for status in expected)),
        )
    except UpdateError as error:
        if condition_failed(error):
            return None
        raise
    return _request(item)
