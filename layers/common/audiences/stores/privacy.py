"""Privacy marks and requests in the tenants table: a tenant's secret and marks share one partition (one
Query reads them), its requests another, keyed by ids that sort by creation.

The secret is envelope-encrypted: KMS makes it as a data key under the privacy key, with the tenant as its
encryption context, and only the wrapped form is stored; reading unwraps it (KMS Decrypt). So the table, or a
backup of it, alone neither unseals a request nor tests a keyed hash. A container keeps what it unwrapped.
"""

from __future__ import annotations

import json
from dataclasses import fields

from pynamodb.exceptions import DeleteError, PutError, UpdateError

from audiences.cache import BoundedCache
from audiences.errors import Conflict
from audiences.ports.privacy import Kind, Mark, PrivacyRequest, Screening, Status
from audiences.settings import get_settings
from audiences.stores import clients
from audiences.stores.conditions import condition_failed
from audiences.stores.models import PrivacyItem, PrivacyRequestItem

_SECRET = "SECRET"
_MARK = "MARK#"

# Unwrapped secrets a container keeps, by tenant and wrapped form: one KMS Decrypt a tenant an age, not one a
# request. The age bounds how long a container goes on after the key is disabled or its grant revoked.
SECRETS_KEPT = 1_000
SECRET_CACHE_SECONDS = 15 * 60
_unwrapped: BoundedCache[bytes] = BoundedCache(SECRETS_KEPT, lambda: SECRET_CACHE_SECONDS)


def _marks_pk(tenant_id: str) -> str:
    return f"PRIVACY#{tenant_id}"


def _requests_pk(tenant_id: str) -> str:
    return f"REQUESTS#{tenant_id}"


def _context(tenant_id: str) -> dict[str, str]:
    """What binds a wrapped secret to its tenant: another tenant's context does not unwrap it."""
    return {"tenant": tenant_id}


def _unwrap(tenant_id: str, wrapped: bytes) -> bytes:
    def decrypt() -> bytes:
        answer = clients.kms().decrypt(
            KeyId=get_settings().privacy_key_id, CiphertextBlob=wrapped, EncryptionContext=_context(tenant_id)
        )
        return answer["Plaintext"]

    return _unwrapped.get_or_load((tenant_id, wrapped), decrypt)


def _secret_of(tenant_id: str, item: PrivacyItem) -> bytes | None:
    if item.wrapped_secret is not None:
        return _unwrap(tenant_id, item.wrapped_secret)
    return item.secret  # stored in clear before secrets were wrapped (`privacy wrap-secrets` wraps it)


def screening(tenant_id: str) -> Screening:
    secret, marks = None, {}
    for item in PrivacyItem.query(_marks_pk(tenant_id)):
        if item.sk == _SECRET:
            secret = _secret_of(tenant_id, item)
        else:
            erased_at = float(item.erased_at) if item.erased_at is not None else None
            marks[item.sk.removeprefix(_MARK)] = Mark(float(item.suppressed_until or 0), erased_at)
    return Screening(secret, marks)


def secret(tenant_id: str) -> bytes | None:
    try:
        return _secret_of(tenant_id, PrivacyItem.get(_marks_pk(tenant_id), _SECRET, consistent_read=True))
    except PrivacyItem.DoesNotExist:
        return None


def create_secret(tenant_id: str, now: float) -> bytes:
    made = clients.kms().generate_data_key(
        KeyId=get_settings().privacy_key_id, KeySpec="AES_256", EncryptionContext=_context(tenant_id)
    )
    try:
        PrivacyItem(_marks_pk(tenant_id), _SECRET, wrapped_secret=made["CiphertextBlob"], created_at=now).save(
            condition=PrivacyItem.pk.does_not_exist()
        )
        _unwrapped.put((tenant_id, made["CiphertextBlob"]), made["Plaintext"])
        return made["Plaintext"]
    except PutError as error:
        if not condition_failed(error):
            raise
    return secret(tenant_id)  # a concurrent maker's


def wrap_secret(tenant_id: str) -> bool:
    """Wrap the tenant's secret in place if it is stored in clear (written before secrets were wrapped): the
    same secret, so its marks and sealed requests still read. Whether there was one to wrap. The operator's
    migration (`privacy wrap-secrets`), not the port's."""
    try:
        item = PrivacyItem.get(_marks_pk(tenant_id), _SECRET, consistent_read=True)
    except PrivacyItem.DoesNotExist:
        return False
    if item.secret is None:
        return False
    wrapped = clients.kms().encrypt(
        KeyId=get_settings().privacy_key_id, Plaintext=item.secret, EncryptionContext=_context(tenant_id)
    )["CiphertextBlob"]
    try:
        item.update(
            actions=[PrivacyItem.wrapped_secret.set(wrapped), PrivacyItem.secret.remove()],
            condition=PrivacyItem.wrapped_secret.does_not_exist(),
        )
    except UpdateError as error:
        if condition_failed(error):
            return False  # wrapped meanwhile, by another run of the migration
        raise
    return True


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


# A restore of the tenants table to an earlier time (docs/operations.md, "Restoring a table"): what is saved of
# a tenant before it, and put back after it. Operator's operations on the table's items, not the port's.


def saved_since(tenant_id: str, since: float) -> dict | None:
    """The tenant's privacy partition as it is now (its wrapped secret and every mark) and its requests changed
    since `since`, as JSON; None if none changed. Nothing in it is in clear: subjects sealed, marks keyed
    hashes, the secret wrapped by KMS. Conflict if the secret is stored in clear (wrap it first)."""
    changed = [
        item
        for item in PrivacyRequestItem.query(_requests_pk(tenant_id), consistent_read=True)
        if float(item.updated_at) >= since
    ]
    if not changed:
        return None
    partition = list(PrivacyItem.query(_marks_pk(tenant_id), consistent_read=True))
    if any(item.secret is not None for item in partition):
        raise Conflict(f"tenant {tenant_id!r} has its privacy secret in clear: run `privacy wrap-secrets` first")
    return {
        "tenant": tenant_id,
        "privacy": [item.to_dynamodb_dict() for item in partition],
        "requests": [item.to_dynamodb_dict() for item in changed],
    }


def _reruns(request: PrivacyRequest) -> bool:
    """What a restore to before the request undid, so its job runs again: every stored copy it purged (the
    memberships an erasure erased among them), or a job it had not finished."""
    return not request.status.terminal or (request.kind.purges and request.status is Status.DONE)


def restore_saved(saved: dict, now: float) -> list[str]:
    """Make the tenant's privacy partition what `saved` holds (marks made since come back, marks lifted since
    go), then put back each saved request unless the table holds a later version of it (this replay's, run
    before); one whose effect the restore undid is put back queued from its first step, even where the table
    was not restored. The ids of those, for their jobs to be queued."""
    tenant_id = saved["tenant"]
    partition = []
    for raw in saved["privacy"]:
        partition.append(item := PrivacyItem())
        item.from_dynamodb_dict(raw)
    kept = {item.sk for item in partition}
    with PrivacyItem.batch_write() as batch:
        for held in PrivacyItem.query(_marks_pk(tenant_id), consistent_read=True):
            if held.sk not in kept:
                batch.delete(held)
        for item in partition:
            batch.save(item)
    queued = []
    for raw in saved["requests"]:
        (item := PrivacyRequestItem()).from_dynamodb_dict(raw)
        saved_at, rerun = item.updated_at, _reruns(_request(item))
        if rerun:
            item.status, item.step, item.position, item.not_before = Status.QUEUED.value, "", "", 0
            item.results, item.finished_at, item.updated_at = "{}", None, now
        try:
            item.save(condition=PrivacyRequestItem.pk.does_not_exist() | (PrivacyRequestItem.updated_at <= saved_at))
        except PutError as error:
            if condition_failed(error):
                continue  # put back and run again by an earlier replay of the same file
            raise
        if rerun:
            queued.append(item.sk)
    return queued
