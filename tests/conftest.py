"""Every test process looks like a Lambda environment of this template, before anything imports the layer."""

import moto  # noqa: F401  (must patch botocore before any client exists)

import tests.aws_calls  # noqa: F401  (counts AWS calls; likewise before any client exists)
from local import moto_fidelity, provision, template
from local.stack import configure_process

moto_fidelity.install()

TEMPLATE = template.load()
FUNCTIONS = template.functions(TEMPLATE)
PLAN = provision.plan(TEMPLATE)

configure_process(PLAN, FUNCTIONS, endpoint_url=None)
