"""A crash before or after any AWS call of an import, then the redelivery: always the same end state."""

from __future__ import annotations

import pytest

from audiences import catalog, memberships
from audiences.domain import OPERATOR, Audience, Confidence, ImportStatus, Tenant, UserRef
from audiences.stores import imports as import_store
from audiences.stores import memberships as membership_store
from audiences.stores import tenants as tenant_store
from tests.aws_calls import crash_points
from tests.imports_helpers import crash_then_redeliver, csv_gz, drain, upload

BEFORE, AFTER = ["a", "b", "c"], ["b", "c", "d", "e"]


def tenant_with_a_first_import(functions, tenant_id: str) -> str:
    tenant_store.create_tenant(Tenant.of(tenant_id, fs_user_id=Confidence.HIGH))
    catalog.put_audience(tenant_id, Audience("vip_users", "vip"), OPERATOR)
    key = f"{tenant_id}/audience-diffs/vip_users.csv.gz"
    upload(csv_gz(BEFORE), key=key)
    drain(functions)
    return key


def run_second_import(functions, key: str, fault: tuple[int, str] | None, chunk: bool = False) -> list[str]:
    """The second upload's import (or its one chunk), crashed as `fault` says, then redelivered; returns
    its AWS calls."""
    upload(csv_gz(AFTER), key=key)
    return crash_then_redeliver(functions, fault, chunk)


def assert_converged(tenant_id: str, context: str) -> None:
    states = {
        user: membership_store.user_memberships(tenant_id, UserRef("fs_user_id", user))["vip"][0].value
        for user in BEFORE + AFTER
    }
    assert states == {
        "a": "disqualified",
        "b": "qualified",
        "c": "qualified",
        "d": "qualified",
        "e": "qualified",
    }, context
    assert memberships.audience_size(tenant_id, "vip") == 4, context
    second = import_store.page(tenant_id, None, None, None, 10)[0][0]
    assert (second.status, second.qualified, second.disqualified, second.unchanged) == (
        ImportStatus.SUCCESS,
        2,
        1,
        2,
    ), context
    assert import_store.state(tenant_id, "vip_users").import_id == second.import_id, context


@pytest.mark.parametrize("when", ["before", "after"])
def test_crash_around_every_aws_call_of_an_import_converges(aws, functions, when):
    drain(functions)
    key = tenant_with_a_first_import(functions, "clean")
    calls = run_second_import(functions, key, fault=None)
    assert_converged("clean", "without a crash")
    assert {"s3.GetObject", "s3.PutObject", "dynamodb.UpdateItem", "sqs.SendMessageBatch"} <= set(calls)
    for index in crash_points(calls, when):
        tenant_id = f"{when}{index}"
        key = tenant_with_a_first_import(functions, tenant_id)
        run_second_import(functions, key, fault=(index, when))
        assert_converged(tenant_id, f"crash {when} call {index}")


@pytest.mark.parametrize("when", ["before", "after"])
def test_crash_around_every_aws_call_of_applying_the_last_chunk_converges(aws, functions, when):
    drain(functions)
    key = tenant_with_a_first_import(functions, "clean")
    calls = run_second_import(functions, key, fault=None, chunk=True)
    assert_converged("clean", "without a crash")
    assert {"s3.GetObject", "dynamodb.TransactWriteItems", "s3.DeleteObject", "dynamodb.DeleteItem"} <= set(calls)
    for index in crash_points(calls, when):
        tenant_id = f"{when}{index}"
        key = tenant_with_a_first_import(functions, tenant_id)
        run_second_import(functions, key, fault=(index, when), chunk=True)
        assert_converged(tenant_id, f"crash {when} call {index}")
