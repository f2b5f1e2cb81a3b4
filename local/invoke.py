"""`make invoke FUNCTION=<LogicalId> EVENT=events/<file>.json`: `sam local invoke` without Docker.

Runs the handler in-process against the running local stack (found through .local/demo.env),
or, when none runs, against an in-memory moto provisioned from the template and seeded with
the demo tenant. `${DEMO_PUBLIC_KEY}` and `${DEMO_PRIVATE_KEY}` in the event are replaced by
that stack's keys (for `sam local invoke`, expand them with envsubst).
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

from local import lambdas, provision, template
from local.stack import configure_process


def running_stack(env_file: Path) -> dict[str, str] | None:
    """The settings `make run` wrote, if that stack still answers."""
    if not env_file.is_file():
        return None
    settings = dict(
        line.removeprefix("export ").split("=", 1) for line in env_file.read_text().splitlines() if "=" in line
    )
    endpoint = urlsplit(settings.get("AWS_ENDPOINT_URL", ""))
    try:
        socket.create_connection((endpoint.hostname, endpoint.port), timeout=0.5).close()
    except (OSError, TypeError, ValueError):
        return None
    return settings


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m local.invoke <FunctionLogicalId> <event.json>", file=sys.stderr)
        return 2
    logical_id, event_path = argv
    spec = template.load()
    functions = template.functions(spec)
    by_id = {function.logical_id: function for function in functions}
    if logical_id not in by_id:
        print(f"unknown function {logical_id!r}; the template has: {', '.join(sorted(by_id))}", file=sys.stderr)
        return 2
    try:
        event_text = Path(event_path).read_text()
    except OSError as error:
        print(f"cannot read the event: {error}", file=sys.stderr)
        return 2

    plan = provision.plan(spec)
    state_dir = Path(os.environ.get("LOCAL_STATE_DIR") or template.ROOT / ".local")
    stack = running_stack(state_dir / "demo.env")
    if stack is not None:
        print(f"invoking {logical_id} against the running local stack at {stack['AWS_ENDPOINT_URL']}", file=sys.stderr)
        configure_process(plan, functions, stack["AWS_ENDPOINT_URL"])
        result = _invoke(by_id[logical_id], event_text, stack)
    else:
        from moto import mock_aws

        from local import moto_fidelity

        moto_fidelity.install()

        print(f"no local stack is running: invoking {logical_id} against an in-memory moto", file=sys.stderr)
        configure_process(plan, functions, endpoint_url=None)
        with mock_aws():
            provision.provision(plan)
            from local.seed import seed_demo

            result = _invoke(by_id[logical_id], event_text, seed_demo())
    print(json.dumps(result, indent=2))
    return 0


def _invoke(function: template.Function, event_text: str, keys: dict[str, str]) -> dict:
    try:
        event = json.loads(Template(event_text).safe_substitute(keys))
    except json.JSONDecodeError as error:
        raise SystemExit(f"the event is not valid JSON: {error}") from error
    return lambdas.load(function).invoke(event)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
