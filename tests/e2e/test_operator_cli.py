"""The operator CLI as the README runs it: a subprocess with only PATH and HOME, on the local stack
(`--local`) and on a stack found through its CloudFormation outputs (`--stack`)."""

from __future__ import annotations

import json
import re
import shlex
import time
from pathlib import Path

import boto3

from audiences.auth import key_id
from audiences.settings import Settings
from local.template import ROOT
from tests.e2e.conftest import free_port, new_key, run_admin

SEGMENT = {"definition": {"external": {"external_audience_id": "wayne_vip"}}}


def test_the_readme_commands_work_verbatim_against_the_local_stack(stack, admin):
    section = (ROOT / "README.md").read_text().split("## Operating it", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [re.fullmatch(r'make admin ARGS="(.*)"', line.split("  #")[0].strip())[1] for line in block.splitlines()]
    assert all(line.startswith("--local ") for line in lines) and len(lines) == 11
    outputs = []
    for line in lines:
        if "<key id>" in line:  # as `keys list` showed it
            line = line.replace("<key id>", outputs[lines.index("--local keys list acme")].split("\t", 1)[0])
        ran = admin(*shlex.split(line)[1:])
        assert ran.returncode == 0, (line, ran.stderr)
        outputs.append(ran.stdout)
    assert "acme\tfs_user_id=high, email=high\n" in outputs[3]
    assert outputs[5].startswith("userId\tfs_user_id\ntraits.email\temail\n")  # the identity map
    assert outputs[7] == "segment_id\texternal_id\tsize\trevision\tenabled\tid\n"  # no audiences yet
    assert outputs[8].startswith("revoked ")
    request_id, kind, _ = outputs[9].split("\t", 2)
    assert kind == "suppress_with_delete"
    assert outputs[10].splitlines()[0].startswith("id\tkind") and request_id in outputs[10]


def test_from_nothing_to_a_working_tenant(stack, admin):
    created = admin("tenants", "create", "wayne", "--identifier", "customer_id=high", "--identifier", "vuid=low")
    assert created.returncode == 0, created.stderr
    private, public = new_key(admin, "wayne", "private"), new_key(admin, "wayne", "public")
    assert stack.call("PUT", "/v3/segments/vip", key=private, json=SEGMENT).json() == {"revision": 1}
    event = {
        "type": "passthrough",
        "action": "qualify",
        "identifiers": {"customer_id": "c-1"},
        "data": {"audience_id": "wayne_vip", "ts": int(time.time())},
    }
    assert stack.call("POST", "/v3/events", key=public, json=event).status_code == 202
    query = {"query": '{customer(customer_id: "c-1") {audiences {edges {node {name}}}}}'}
    answer = stack.call("POST", "/v3/graphql", key=public, json=query).json()
    assert answer["data"]["customer"]["audiences"]["edges"] == [{"node": {"name": "vip"}}]
    listed = admin("audiences", "list", "wayne")
    assert listed.stdout.splitlines()[1].split("\t")[:5] == ["vip", "wayne_vip", "1", "1", "True"]
    tenants = admin("tenants", "list").stdout
    assert "wayne\tcustomer_id=high, vuid=low" in tenants and "demo\t" in tenants


def test_tenants_are_isolated(stack, admin):
    assert admin("tenants", "create", "globex").returncode == 0
    globex = new_key(admin, "globex", "private")
    stack.call("PUT", "/v3/segments/globex_only", key=globex, json=SEGMENT | {"description": "secret"})
    demo = stack.private_key
    assert stack.call("GET", "/v3/segments/globex_only", key=demo).status_code == 404
    assert stack.call("DELETE", "/v3/segments/globex_only", key=demo).status_code == 404
    assert "globex_only" not in stack.call("GET", "/v3/segments", key=demo).json()["segment_ids"]
    assert stack.call("GET", "/v3/segments/globex_only", key=globex).json()["description"] == "secret"


def test_several_keys_per_scope_and_revocation(stack, admin):
    assert admin("tenants", "create", "initech").returncode == 0
    first, second = new_key(admin, "initech", "private"), new_key(admin, "initech", "private")
    listed = admin("keys", "list", "initech").stdout.splitlines()
    assert len(listed) == 2 and all("\tprivate\t" in line for line in listed)
    assert first not in "\n".join(listed)  # ids, never keys
    for key in (first, second):
        assert stack.call("GET", "/v3/segments", key=key).status_code == 200
    first_id = key_id(first)
    assert first_id in [line.split("\t")[0] for line in listed]
    assert admin("keys", "revoke", "initech", first_id).returncode == 0
    time.sleep(1.2)  # the stack runs with AUTH_CACHE_SECONDS=1
    assert stack.call("GET", "/v3/segments", key=first).status_code == 403
    assert stack.call("GET", "/v3/segments", key=second).status_code == 200


def test_mistakes_exit_non_zero_with_a_clear_message(admin):
    cases = [
        (("tenants", "create", "demo"), "tenant 'demo' already exists"),
        (("tenants", "create", "Bad Name"), "tenant id 'Bad Name' is invalid: use a-z, 0-9, - and _ (at most 63)"),
        (
            ("tenants", "create", "x1", "--identifier", "email"),
            "--identifier 'email': use NAME=high or NAME=low, NAME of a-z, 0-9 and _",
        ),
        (("keys", "create", "nobody", "--scope", "public"), "tenant 'nobody' does not exist (see: tenants list)"),
        (("keys", "revoke", "demo", "000000000000"), "tenant 'demo' has no key '000000000000'"),
        (("identifiers", "add", "demo", "email", "--confidence", "low"), "identifier 'email' already exists"),
    ]
    for args, message in cases:
        run = admin(*args)
        assert (run.returncode, run.stdout) == (1, ""), args
        assert run.stderr.strip() == f"error: {message}", (args, run.stderr)
    usage = admin("keys", "create", "demo")
    assert usage.returncode == 2 and "--scope" in usage.stderr


def test_local_without_a_stack_says_what_to_do(tmp_path):
    run = run_admin(tmp_path, tmp_path, "--local", "tenants", "list")
    assert (run.returncode, run.stderr) == (
        1,
        f"error: {tmp_path / '.local' / 'demo.env'} does not exist: start the local stack with `make run` first\n",
    )
    (tmp_path / ".local").mkdir()
    stopped = f"http://127.0.0.1:{free_port()}"  # a stack that wrote its demo.env, then stopped
    (tmp_path / ".local" / "demo.env").write_text(f"export AWS_ENDPOINT_URL={stopped}\n")
    run = run_admin(tmp_path, tmp_path, "--local", "tenants", "list")
    assert (run.returncode, run.stderr) == (1, f"error: no local stack answers on {stopped}: start `make run`\n")


# --stack: the local stack's moto plays a deployed stack, described by CloudFormation outputs.


def aws_home(home: Path, endpoint_url: str) -> Path:
    """A HOME whose AWS configuration points at the local stack, as yours points at AWS."""
    (home / ".aws").mkdir()
    (home / ".aws" / "config").write_text(f"[default]\nregion = us-east-1\nendpoint_url = {endpoint_url}\n")
    (home / ".aws" / "credentials").write_text("[default]\naws_access_key_id = local\naws_secret_access_key = local\n")
    return home


def describe_as_a_stack(stack, name: str, outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Marker": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    cloudformation = boto3.client(
        "cloudformation",
        region_name="us-east-1",
        endpoint_url=stack.aws_url,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))


def stack_outputs(stack) -> dict[str, str]:
    """Every output the settings table names, with the local stack's resource names."""
    written = dict(
        line.removeprefix("export ").split("=", 1) for line in (stack.state_dir / "demo.env").read_text().splitlines()
    )
    return {resource.output: written[resource.variable] for resource in Settings.resources()}


def test_stack_outputs_point_the_cli_at_every_table(stack, tmp_path):
    home = aws_home(tmp_path, stack.aws_url)
    describe_as_a_stack(stack, "deployed", stack_outputs(stack))

    def admin(*args):
        return run_admin(tmp_path, home, "--stack", "deployed", *args)

    assert admin("tenants", "create", "stark").returncode == 0
    private, public = new_key(admin, "stark", "private"), new_key(admin, "stark", "public")
    assert "stark\tfs_user_id=high" in admin("tenants", "list").stdout
    segment = {"definition": {"external": {"external_audience_id": "stark_vip"}}}
    assert stack.call("PUT", "/v3/segments/vip", key=private, json=segment).status_code == 200
    events = [
        {
            "type": "passthrough",
            "action": "qualify",
            "identifiers": {"fs_user_id": user},
            "data": {"audience_id": "stark_vip", "ts": int(time.time())},
        }
        for user in ("u1", "u2")
    ]
    assert stack.call("POST", "/v3/events", key=public, json=events).status_code == 202
    vip = admin("audiences", "list", "stark").stdout.splitlines()[1].split("\t")
    assert vip[:5] == ["vip", "stark_vip", "2", "1", "True"] and len(vip[5]) == 36  # the id
    migrated = admin("audiences", "migrate")
    assert migrated.returncode == 0 and "stark\t0 audiences migrated" in migrated.stdout.splitlines()
    listed = admin("keys", "list", "stark").stdout.splitlines()
    assert len(listed) == 2
    assert admin("keys", "revoke", "stark", key_id(public)).returncode == 0
    assert [line.split("\t")[1] for line in admin("keys", "list", "stark").stdout.splitlines()] == ["private"]


def test_a_stack_of_another_application_or_none_at_all_is_refused_clearly(stack, tmp_path):
    home = aws_home(tmp_path, stack.aws_url)
    outputs = stack_outputs(stack)
    del outputs["ImportsTableName"]
    describe_as_a_stack(stack, "unrelated", outputs)
    run = run_admin(tmp_path, home, "--stack", "unrelated", "tenants", "list")
    assert (run.returncode, run.stderr) == (
        1,
        "error: stack 'unrelated' has no output(s) ImportsTableName: is it this application?\n",
    )
    run = run_admin(tmp_path, home, "--stack", "nowhere", "tenants", "list")
    assert run.returncode == 1 and run.stderr.startswith("error: AWS said:") and "nowhere" in run.stderr
    assert "Traceback" not in run.stderr
