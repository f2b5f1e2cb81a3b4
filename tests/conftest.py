"""Every test process looks like a Lambda environment of this template, before anything imports the layer."""

import moto  # noqa: F401  (must patch botocore before any client exists)
import pytest

import tests.aws_calls  # noqa: F401  (counts AWS calls; likewise before any client exists)
from local import iam, moto_fidelity, provision, template
from local.stack import configure_process

moto_fidelity.install()

TEMPLATE = template.load()
FUNCTIONS = template.functions(TEMPLATE)
PLAN = provision.plan(TEMPLATE)

configure_process(PLAN, FUNCTIONS, endpoint_url=None)


@pytest.fixture(autouse=True)
def no_call_outside_the_policies():
    """Every function runs under its template policy (local/iam.py): a denial a function swallowed fails too."""
    iam.ENFORCER.denied.clear()
    yield
    assert not iam.ENFORCER.denied, f"AWS calls outside the template's policies: {iam.ENFORCER.denied}"
