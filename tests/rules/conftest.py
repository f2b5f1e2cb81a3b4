"""The rules above the stores, through the handlers, on the in-memory stores (audiences.fakes): no AWS, so
no provisioning and no moto per call. What only AWS behaviour shows stays in tests/integration."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from audiences import cache, wiring
from audiences.fakes import in_memory
from audiences.ports import Stores
from local.gateway import Router
from tests.conftest import Api


@pytest.fixture
def memory() -> Iterator[Stores]:
    with wiring.using(in_memory()) as stores:
        cache.clear_all()  # fresh stores are a fresh deployment: no warm container remembers the last one
        yield stores


@pytest.fixture
def api(memory, functions) -> Api:
    return Api(Router(list(functions.values())))


@pytest.fixture
def demo(memory) -> dict[str, str]:
    from local.seed import seed_demo

    return seed_demo()
