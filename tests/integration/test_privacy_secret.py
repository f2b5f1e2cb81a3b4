"""The tenant's privacy secret on moto: only its KMS-wrapped form is stored, so the tenants table alone (a dump,
a backup) neither unseals a request's subjects nor tests a keyed hash; a warm container unwraps it once, not
per request; a secret stored in clear before wrapping still reads, and is wrapped in place."""

from __future__ import annotations

import base64
import binascii
import contextlib
import time

import boto3
import pytest
from botocore.exceptions import ClientError

from audiences import cache
from audiences.privacy.sealing import SealBroken, unseal
from audiences.settings import get_settings
from local.provision import REGION
from tests.conftest import PLAN
from tests.integration.helpers import event, segment
from tests.segment_client import Segment

SUBJECT = "ann-7f3e"


def regulate(api, demo) -> str:
    body = {"regulationType": "SUPPRESS_WITH_DELETE", "subjectType": "USER_ID", "subjectIds": [SUBJECT]}
    status, _, answer = Segment(api, demo["DEMO_PRIVATE_KEY"]).call("POST", "/regulations", body)
    assert status == 200, answer
    return answer["data"]["regulateId"]


def tenants_items() -> list[dict]:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    pages = dynamodb.get_paginator("scan").paginate(TableName=PLAN.names["TenantsTable"])
    return [item for page in pages for item in page["Items"]]


def stored_bytes(value: dict):
    """Every value an attribute holds, as bytes: binaries as they are, strings as text and as hex or base64."""
    for kind, held in value.items():
        if kind == "B":
            yield held
        elif kind == "S":
            yield held.encode()
            for decode in (bytes.fromhex, base64.b64decode):
                with contextlib.suppress(ValueError, binascii.Error):
                    yield decode(held)
        elif kind == "M":
            for inner in held.values():
                yield from stored_bytes(inner)
        elif kind == "L":
            for inner in held:
                yield from stored_bytes(inner)
        elif kind in ("BS", "SS"):
            for inner in held:
                yield from stored_bytes({kind[0]: inner})


def test_no_32_bytes_of_any_item_of_the_tenants_table_unseal_a_request(api, demo):
    regulate(api, demo)
    items = tenants_items()
    sealed = [item["sealed_subjects"]["B"] for item in items if "sealed_subjects" in item]
    assert sealed
    candidates = {
        held[start : start + 32]
        for item in items
        for value in item.values()
        for held in stored_bytes(value)
        for start in range(len(held) - 31)
    }
    assert len(candidates) > 100  # the wrapped secret's and the sealed subjects' bytes among them
    for key in candidates:
        for subjects in sealed:
            with pytest.raises(SealBroken):
                unseal(key, subjects)


def test_the_wrapped_secret_unwraps_only_for_its_own_tenant(api, demo):
    regulate(api, demo)
    [wrapped] = [item["wrapped_secret"]["B"] for item in tenants_items() if "wrapped_secret" in item]
    kms = boto3.client("kms", region_name=REGION)
    key = get_settings().privacy_key_id
    assert len(kms.decrypt(KeyId=key, CiphertextBlob=wrapped, EncryptionContext={"tenant": "demo"})["Plaintext"]) == 32
    with pytest.raises(ClientError, match="InvalidCiphertext"):
        kms.decrypt(KeyId=key, CiphertextBlob=wrapped, EncryptionContext={"tenant": "other"})


def test_a_warm_container_unwraps_a_tenants_secret_once_not_per_request(api, demo, functions, aws_calls):
    from tests.imports_helpers import drain

    regulate_id = regulate(api, demo)
    drain(functions)
    assert api.call("PUT", "/v3/segments/vip_users", segment("vip"), key=demo["DEMO_PRIVATE_KEY"]).status == 200
    cache.clear_all()  # a container that never saw the tenant
    aws_calls.reset()
    client = Segment(api, demo["DEMO_PRIVATE_KEY"])
    for n in range(3):
        assert client.call("GET", f"/regulations/{regulate_id}")[0] == 200  # its subjects unsealed
        reply = api.call(
            "POST", "/v3/events", [event("qualify", f"u{n}", "vip", time.time())], key=demo["DEMO_PUBLIC_KEY"]
        )
        assert reply.status == 202  # screened by the tenant's marks
    assert aws_calls.counts()["kms.Decrypt"] == 1
    assert aws_calls.counts()["kms.GenerateDataKey"] == 0


def test_a_secret_stored_in_clear_still_reads_and_the_operator_wraps_it_in_place_once(aws, capsys):
    from audiences import admin
    from audiences.domain import Confidence, Tenant
    from audiences.stores import privacy
    from audiences.stores import tenants as tenant_store
    from audiences.stores.models import PrivacyItem

    for tenant_id in ("old", "new"):
        tenant_store.create_tenant(Tenant.of(tenant_id, fs_user_id=Confidence.HIGH))
    clear = bytes(range(32))
    PrivacyItem("PRIVACY#old", "SECRET", secret=clear, created_at=1.0).save()  # as an earlier version stored it
    made = privacy.create_secret("new", 2.0)
    assert privacy.secret("old") == clear and privacy.screening("old").secret == clear
    assert admin.main(["privacy", "wrap-secrets"]) == 0
    assert "1 tenant secrets wrapped with KMS; 1 tenants had none in clear" in capsys.readouterr().out
    [item] = [item for item in tenants_items() if item["pk"]["S"] == "PRIVACY#old"]
    assert "secret" not in item and clear not in item["wrapped_secret"]["B"]
    cache.clear_all()
    assert privacy.secret("old") == clear and privacy.screening("old").secret == clear  # marks still match
    assert privacy.secret("new") == made
    assert privacy.wrap_secret("old") is False and privacy.wrap_secret("none") is False
