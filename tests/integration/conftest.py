"""Handlers on moto, with every resource created from template.yaml by the local provisioner."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from moto import mock_aws

from audiences import cache
from local import lambdas, provision
from local.gateway import Router, respond
from tests.conftest import FUNCTIONS, PLAN


@pytest.fixture
def aws():
    with mock_aws():
        provision.provision(PLAN)
        cache.clear_all()  # a fresh AWS is a fresh deployment: no warm container remembers the last one
        yield


@pytest.fixture(scope="session")
def functions() -> dict[str, lambdas.LocalFunction]:
    return {function.logical_id: lambdas.load(function) for function in FUNCTIONS}


@dataclass
class Reply:
    status: int
    body: dict


@dataclass
class Api:
    """Calls handlers through the local gateway's routing and v1 proxy events, without HTTP."""

    router: Router

    def call(
        self, method: str, path: str, body: object = None, key: str | None = None, raw: str | None = None
    ) -> Reply:
        headers = [("content-type", "application/json")] + ([("x-api-key", key)] if key is not None else [])
        data = raw.encode() if raw is not None else b"" if body is None else json.dumps(body).encode()
        status, _, payload = respond(self.router, method, path, headers, data)
        return Reply(status, json.loads(payload) if payload else {})


@pytest.fixture
def api(aws, functions) -> Api:
    return Api(Router(list(functions.values())))


@pytest.fixture
def demo(aws) -> dict[str, str]:
    from local.seed import seed_demo

    return seed_demo()


@pytest.fixture
def aws_calls():
    from tests.aws_calls import AWS_CALLS

    AWS_CALLS.reset()
    return AWS_CALLS


@pytest.fixture
def setting(monkeypatch):
    """Set an environment setting for one test: the settings are read afresh with it, and without it after."""
    from audiences.settings import get_settings

    def set_setting(name: str, value: str) -> None:
        monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield set_setting
    get_settings.cache_clear()
