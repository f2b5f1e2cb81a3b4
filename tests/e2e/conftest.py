"""The local stack exactly as `make run` starts it, on free ports, driven over HTTP."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import requests

from local import iam
from local.provision import REGION
from local.template import ROOT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Stack:
    api_url: str
    aws_url: str
    public_key: str
    private_key: str
    state_dir: Path
    log: Path
    pid: int

    def call(self, method: str, path: str, key: str | None = None, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {}) | ({"x-api-key": key} if key else {})
        return requests.request(method, self.api_url + path, headers=headers, timeout=10, **kwargs)


@contextlib.contextmanager
def running_stack(state_dir: Path) -> Iterator[Stack]:
    """`python -m local` on free ports until the block ends, then SIGTERM: it must stop cleanly."""
    state_dir.mkdir()
    log = state_dir / "stack.log"
    api_port, aws_port = free_port(), free_port()
    keys = {"DEMO_PUBLIC_KEY": f"pa_pub_{secrets.token_hex(8)}", "DEMO_PRIVATE_KEY": f"pa_prv_{secrets.token_hex(8)}"}
    env = (
        os.environ
        | keys
        | {
            "API_PORT": str(api_port),
            "AWS_PORT": str(aws_port),
            "LOCAL_STATE_DIR": str(state_dir),
            "LOCAL_QUEUE_RETRY_SECONDS": "1",
            "LOCAL_SCHEDULE_SECONDS": "1",
            "AUTH_CACHE_SECONDS": "1",
            "PARAMETER_OVERRIDES": "MaxFutureSkewSeconds=2",  # an erasure keeps out its subject's new events this long
        }
    )
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "local"], cwd=ROOT, env=env, stdout=out, stderr=out)
    deadline = time.monotonic() + 60
    while not (state_dir / "demo.env").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the local stack did not start:\n{log.read_text()}")
        time.sleep(0.2)
    yield Stack(
        f"http://127.0.0.1:{api_port}",
        f"http://127.0.0.1:{aws_port}",
        keys["DEMO_PUBLIC_KEY"],
        keys["DEMO_PRIVATE_KEY"],
        state_dir,
        log,
        process.pid,
    )
    process.send_signal(signal.SIGTERM)
    try:
        exit_code = process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGQUIT)  # every thread's stack, into the log
        time.sleep(1)
        process.kill()
        pytest.fail(f"the local stack did not stop within 20 s of SIGTERM:\n{log.read_text()[-20_000:]}")
    text = log.read_text()
    assert exit_code == 0, text
    assert "local stack stopped" in text
    assert iam.DENIED not in text, f"a function called AWS outside its template policy:\n{text[-20_000:]}"


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    # .local is where `make admin ARGS=--local` looks, from its parent
    with running_stack(tmp_path_factory.mktemp("stack") / ".local") as running:
        yield running


def run_admin(cwd: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    """`make admin ARGS=…` is the venv's python -m audiences.admin: nothing of this process's environment."""
    env = {"PATH": os.environ["PATH"], "HOME": str(home)}
    command = [sys.executable, "-m", "audiences.admin", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def admin(stack, tmp_path):
    """The CLI with --local, from the folder whose .local/demo.env `make run` wrote."""
    return lambda *args: run_admin(stack.state_dir.parent, tmp_path, "--local", *args)


def new_key(admin, tenant: str, scope: str) -> str:
    created = admin("keys", "create", tenant, "--scope", scope)
    assert created.returncode == 0, created.stderr
    return created.stdout.strip().splitlines()[-1]


def aws(stack, service: str):
    """A client of the local stack's moto, as a user's boto3 would be configured for it."""
    return boto3.client(
        service, endpoint_url=stack.aws_url, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
