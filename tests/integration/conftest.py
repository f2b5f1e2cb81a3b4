"""Handlers on moto, with every resource created from template.yaml by the local provisioner: for what only
AWS behaviour shows (conditions, transactions, request counts, IAM, faults at each AWS call)."""

from __future__ import annotations

import pytest
from moto import mock_aws

from audiences import cache
from local import provision
from local.gateway import Router
from tests.conftest import PLAN, Api


@pytest.fixture
def aws():
    with mock_aws():
        provision.provision(PLAN)
        cache.clear_all()  # a fresh AWS is a fresh deployment: no warm container remembers the last one
        yield


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
