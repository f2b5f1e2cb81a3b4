"""Every test process looks like a Lambda environment of this template, before anything imports the layer."""

import json
from dataclasses import dataclass

import moto  # noqa: F401  (must patch botocore before any client exists)
import pytest

import tests.aws_calls  # noqa: F401  (counts AWS calls; likewise before any client exists)
from local import iam, lambdas, moto_fidelity, provision, template
from local.gateway import Router, respond
from local.stack import configure_process

moto_fidelity.install()

TEMPLATE = template.load()
FUNCTIONS = template.functions(TEMPLATE)
# In one test process every function shares the container a privacy job forgets its marks' copy in, so a mark is
# in effect at once: nothing to wait for (tests of the waits set their own).
PLAN = provision.plan(TEMPLATE, provision.LOCAL_PARAMETERS | {"PrivacySettleSeconds": 0, "PrivacyCacheSeconds": 0})

configure_process(PLAN, FUNCTIONS, endpoint_url=None)


@pytest.fixture(autouse=True)
def no_call_outside_the_policies():
    """Every function runs under its template policy (local/iam.py): a denial a function swallowed fails too."""
    iam.ENFORCER.denied.clear()
    yield
    assert not iam.ENFORCER.denied, f"AWS calls outside the template's policies: {iam.ENFORCER.denied}"


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
def adobe(api, demo):
    """Adobe's API as the demo tenant's private key calls it, in sandbox prod."""
    from tests.adobe_client import Adobe

    return Adobe(api, demo["DEMO_PRIVATE_KEY"])


@pytest.fixture
def client(api, demo):
    """Segment's Public API as the demo tenant's private key calls it, in space demo."""
    from tests.segment_client import Segment

    return Segment(api, demo["DEMO_PRIVATE_KEY"])


@pytest.fixture
def vip(api, demo, functions):
    """Segment vip_users of external id vip, and no notification left to deliver."""
    from tests.imports_helpers import drain
    from tests.integration.helpers import segment

    assert api.call("PUT", "/v3/segments/vip_users", segment("vip"), key=demo["DEMO_PRIVATE_KEY"]).status == 200
    drain(functions)  # S3's test event from provisioning
    return demo


@pytest.fixture
def history(api, demo, functions):
    """Three imports of vip_users (success, failure, success) and one of churn (success)."""
    from tests.imports_helpers import csv_gz, drain, upload
    from tests.integration.helpers import segment

    key = demo["DEMO_PRIVATE_KEY"]
    api.call("PUT", "/v3/segments/vip_users", segment("vip"), key=key)
    api.call("PUT", "/v3/segments/churn", segment("churn"), key=key)
    drain(functions)
    for data, name in [
        (csv_gz(["a"]), "vip_users"),
        (b"broken", "vip_users"),
        (csv_gz(["a", "b"]), "vip_users"),
        (csv_gz(["x"], audience="churn"), "churn"),
    ]:
        upload(data, key=f"demo/audience-diffs/{name}.csv.gz")
        drain(functions)
    return key


@pytest.fixture
def setting(monkeypatch):
    """Set an environment setting for one test: the settings are read afresh with it, and without it after."""
    from audiences.settings import get_settings

    def set_setting(name: str, value: str) -> None:
        monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield set_setting
    get_settings.cache_clear()


@pytest.fixture
def privacy_marks_cached(setting):
    """As deployed: a container keeps its copy of the tenant's privacy marks (the test processes keep none), for
    the tests that count AWS requests."""
    setting("PRIVACY_SETTLE_SECONDS", "60")
    setting("PRIVACY_CACHE_SECONDS", "60")
