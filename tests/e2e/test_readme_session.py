"""The README's curl session, run verbatim against the local stack, must answer what the README shows."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import time

from local.template import ROOT

TIMESTAMP = re.compile(r'"timestamp": "[^"]+"')


def bash_block(heading: str) -> str:
    """The first bash block after a README heading."""
    section = (ROOT / "README.md").read_text().split(heading, 1)[1]
    return section.split("```bash\n", 1)[1].split("```", 1)[0]


def readme_session() -> tuple[str, list[str]]:
    """The bash block under 'Try it', and the answers its comments promise."""
    block = bash_block("## Try it")
    expected = [line.removeprefix("# ") for line in block.splitlines() if line.startswith("# {")]
    return block, expected


def normalized(line: str) -> object:
    return json.loads(TIMESTAMP.sub('"timestamp": "T"', line))


def test_readme_curl_session_works_verbatim(stack, tmp_path):
    (tmp_path / ".local").mkdir()
    (tmp_path / ".local" / "demo.env").symlink_to(stack.state_dir / "demo.env")
    block, expected = readme_session()
    assert len(expected) == 5
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    answers = run.stdout.splitlines()
    assert [normalized(line) for line in answers] == [normalized(line) for line in expected]


def test_readme_import_workflow_works_verbatim(stack, tmp_path):
    (tmp_path / ".local").mkdir()
    (tmp_path / ".local" / "demo.env").symlink_to(stack.state_dir / "demo.env")
    create = readme_session()[0].split("\n\ncurl", 2)[:2]  # source + create the audience
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "\n\ncurl".join(create)], cwd=tmp_path, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    block = "source .local/demo.env\n" + bash_block("### Audience files")
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "imports" in json.loads(run.stdout.splitlines()[-1])  # the listing the README shows
    latest = finished_import(stack, "vip_users")  # the README waits 2 s; a loaded machine may need longer
    assert (latest["status"], latest["rows"], latest["qualified"]) == ("SUCCESS", 2, 2)


def finished_import(stack, audience: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        imports = stack.call("GET", f"/v3/imports?audience={audience}", key=stack.private_key).json()["imports"]
        if imports and imports[0]["status"] != "PROCESSING":
            return imports[0]
        time.sleep(0.2)
    raise AssertionError(f"no import of {audience} finished within 30 s")


def test_readme_multipart_upload_works_verbatim(stack, tmp_path):
    block = (ROOT / "README.md").read_text().split("**Sizes.**", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    definition = {"definition": {"external": {"external_audience_id": "vip"}}, "description": "", "metadata": {}}
    assert stack.call("PUT", "/v3/segments/vip_users", key=stack.private_key, json=definition).status_code == 200
    now = int(time.time())
    rows = "".join(f"passthrough,qualify,vip_users,{now},big-{n}\n" for n in range(1000))
    (tmp_path / "all_users.csv.gz").write_bytes(
        gzip.compress(("type,action,audience_id,ts,fs_user_id\n" + rows).encode())
    )
    env = os.environ | {"API_URL": stack.api_url, "DEMO_PRIVATE_KEY": stack.private_key}
    run = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    deadline = time.monotonic() + 30
    while (latest := finished_import(stack, "vip_users"))["rows"] != 1000 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert (latest["status"], latest["rows"]) == ("SUCCESS", 1000)


def test_readme_segment_library_example_works_verbatim(stack, tmp_path):
    (tmp_path / ".local").mkdir()
    (tmp_path / ".local" / "demo.env").symlink_to(stack.state_dir / "demo.env")
    create = readme_session()[0].split("\n\ncurl", 2)[:2]  # source + create the audience, as "Try it" did
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "\n\ncurl".join(create)], cwd=tmp_path, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    section = (ROOT / "README.md").read_text().split("### Segment as a source", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert len([line for line in example.splitlines() if line]) == 3
    example = example.replace("<DEMO_PUBLIC_KEY>", stack.public_key).replace("http://127.0.0.1:3000", stack.api_url)
    run = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    query = "query($userId: String) {customer(fs_user_id: $userId) {audiences {edges {node {name state}}}}}"
    reply = stack.call(
        "POST", "/v3/graphql", key=stack.public_key, json={"query": query, "variables": {"userId": "user-42"}}
    )
    assert reply.json()["data"]["customer"]["audiences"]["edges"] == [
        {"node": {"name": "vip_users", "state": "qualified"}}
    ]
