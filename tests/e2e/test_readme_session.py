"""The README's curl session, run verbatim against the local stack, must answer what the README shows."""

from __future__ import annotations

import json
import re
import subprocess
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
