"""The operator CLI against the running local stack, and what its tenants can then do over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from audiences.auth import key_id
from local.template import ROOT

SEGMENT = {"definition": {"external": {"external_audience_id": "acme_vip"}}}


def admin(stack, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"LOCAL_STATE_DIR": str(stack.state_dir), "PYTHONPATH": str(ROOT / "layers" / "common")}
    for name in ("TENANTS_TABLE", "CATALOG_TABLE", "MEMBERSHIPS_TABLE", "DATA_BUCKET"):
        env.pop(name, None)  # --local alone must find everything
    return subprocess.run(
        [sys.executable, "-m", "audiences.admin", "--local", *args], env=env, capture_output=True, text=True
    )


def new_key(stack, tenant: str, scope: str) -> str:
    created = admin(stack, "keys", "create", tenant, "--scope", scope)
    assert created.returncode == 0, created.stderr
    return created.stdout.strip().splitlines()[-1]


def test_from_nothing_to_a_working_tenant(stack):
    created = admin(stack, "tenants", "create", "acme", "--identifier", "customer_id=high", "--identifier", "vuid=low")
    assert created.returncode == 0, created.stderr
    private, public = new_key(stack, "acme", "private"), new_key(stack, "acme", "public")
    assert stack.call("PUT", "/v3/segments/vip", key=private, json=SEGMENT).json() == {"revision": 1}
    event = {
        "type": "passthrough",
        "action": "qualify",
        "identifiers": {"customer_id": "c-1"},
        "data": {"audience_id": "acme_vip", "ts": int(time.time())},
    }
    assert stack.call("POST", "/v3/events", key=public, json=event).status_code == 202
    query = {"query": '{customer(customer_id: "c-1") {audiences {edges {node {name}}}}}'}
    answer = stack.call("POST", "/v3/graphql", key=public, json=query).json()
    assert answer["data"]["customer"]["audiences"]["edges"] == [{"node": {"name": "vip"}}]
    listed = admin(stack, "audiences", "list", "acme")
    assert listed.stdout.splitlines()[1].split("\t") == ["vip", "acme_vip", "1", "1", "True"]
    tenants = admin(stack, "tenants", "list").stdout
    assert "acme\tcustomer_id=high, vuid=low" in tenants and "demo\t" in tenants


def test_tenants_are_isolated(stack):
    assert admin(stack, "tenants", "create", "globex").returncode == 0
    globex = new_key(stack, "globex", "private")
    stack.call("PUT", "/v3/segments/globex_only", key=globex, json=SEGMENT | {"description": "secret"})
    demo = stack.private_key
    assert stack.call("GET", "/v3/segments/globex_only", key=demo).status_code == 404
    assert stack.call("DELETE", "/v3/segments/globex_only", key=demo).status_code == 404
    assert "globex_only" not in stack.call("GET", "/v3/segments", key=demo).json()["segment_ids"]
    assert stack.call("GET", "/v3/segments/globex_only", key=globex).json()["description"] == "secret"


def test_several_keys_per_scope_and_revocation(stack):
    assert admin(stack, "tenants", "create", "initech").returncode == 0
    first, second = new_key(stack, "initech", "private"), new_key(stack, "initech", "private")
    listed = admin(stack, "keys", "list", "initech").stdout.splitlines()
    assert len(listed) == 2 and all("\tprivate\t" in line for line in listed)
    assert first not in "\n".join(listed)  # ids, never keys
    for key in (first, second):
        assert stack.call("GET", "/v3/segments", key=key).status_code == 200
    first_id = key_id(first)
    assert first_id in [line.split("\t")[0] for line in listed]
    assert admin(stack, "keys", "revoke", "initech", first_id).returncode == 0
    time.sleep(1.2)  # the stack runs with AUTH_CACHE_SECONDS=1
    assert stack.call("GET", "/v3/segments", key=first).status_code == 403
    assert stack.call("GET", "/v3/segments", key=second).status_code == 200


def test_mistakes_exit_non_zero_with_a_clear_message(stack):
    cases = [
        (("tenants", "create", "demo"), "tenant 'demo' already exists"),
        (("tenants", "create", "Bad Name"), "tenant id 'Bad Name' is invalid"),
        (("tenants", "create", "x1", "--identifier", "email"), "use NAME=high or NAME=low"),
        (("keys", "create", "nobody", "--scope", "public"), "tenant 'nobody' does not exist"),
        (("keys", "revoke", "demo", "000000000000"), "tenant 'demo' has no key '000000000000'"),
        (("identifiers", "add", "demo", "email", "--confidence", "low"), "identifier 'email' already exists"),
    ]
    for args, message in cases:
        run = admin(stack, *args)
        assert (run.returncode, run.stdout) == (1, ""), args
        assert run.stderr.strip() == f"error: {message}" or message in run.stderr, (args, run.stderr)
    usage = admin(stack, "keys", "create", "demo")
    assert usage.returncode == 2 and "--scope" in usage.stderr


def test_local_without_a_running_stack_says_what_to_do(tmp_path):
    env = os.environ | {"LOCAL_STATE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT / "layers" / "common")}
    run = subprocess.run(
        [sys.executable, "-m", "audiences.admin", "--local", "tenants", "list"], env=env, capture_output=True, text=True
    )
    assert run.returncode == 1
    assert "start the local stack with `make run` first" in run.stderr
