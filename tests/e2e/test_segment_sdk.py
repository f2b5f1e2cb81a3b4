"""Segment's own TypeScript Public API SDK, unmodified, pointed at the local stack.

`tests/e2e/segment_sdk/drive.js` lists (walking `next` with the SDK's deepObject pagination),
gets, disables and removes an audience, then reads it once more; `make e2e` installs Node.js
from PyPI (requirements-node.txt) and the SDK pinned in that folder's package-lock.json.
"""

from __future__ import annotations

import json
import os
import subprocess

import requests

from local.template import ROOT
from tests.e2e.conftest import new_key

SDK = ROOT / "tests" / "e2e" / "segment_sdk"
NODE = ROOT / ".tools" / "node" / "bin" / "node"


def test_the_segment_typescript_sdk_works_unchanged(stack, admin):
    assert admin("tenants", "create", "tssdk").returncode == 0
    token = new_key(admin, "tssdk", "private")
    made = []
    for n in range(5):
        reply = requests.post(
            f"{stack.api_url}/spaces/tssdk/audiences",
            json={"name": f"SDK audience {n}"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert reply.status_code == 200, reply.text
        made.append(reply.json()["data"]["audience"])

    env = {
        "PATH": os.environ["PATH"],
        "API_URL": stack.api_url,
        "TOKEN": token,
        "SPACE": "tssdk",
        "AUDIENCE_ID": made[1]["id"],
        "PAGE_SIZE": "2",
    }
    run = subprocess.run([NODE, "drive.js"], cwd=SDK, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)

    assert seen["listed"] == [audience["id"] for audience in made]
    assert seen["totals"] == [5, 5, 5]
    # the SDK's model keeps the fields it knows (this version lacks size, audienceType, computeCadence)
    assert {"id", "spaceId", "name", "key", "enabled", "createdAt", "updatedAt"} <= set(seen["got"])
    assert seen["got"] == {field: made[1][field] for field in seen["got"]}
    assert (seen["disabled"]["enabled"], seen["disabled"]["status"]) == (False, "Disabled")
    assert seen["removed"] == {"status": "SUCCESS"}
    assert seen["refused"] == {
        "status": 404,
        "body": {"errors": [{"type": "not-found", "message": f"Audience with id '{made[1]['id']}' not found."}]},
    }
