"""Cold starts: each API function's INIT and first response, against a minimal handler making the same AWS calls.

    python -m bench.cold_start       (`make bench` runs it in a process of its own; prints one JSON line)

moto runs as a server on a loopback port, with the template's resources and the demo tenant, an
audience and a member, as `make run` has them. For each API function and a first request a client
would make (FIRST_REQUESTS), a fresh interpreter in a Lambda-like environment (LAMBDA_LIKE) imports
the handler module and answers the request; the time from starting the interpreter to the answer
is the cold start (median of RUNS). Once beforehand, with botocore's calls recorded, the first
response gives the AWS calls it makes; the baseline is a fresh interpreter running a minimal handler
that imports boto3 and makes exactly those calls, with the same parameters, then answers.

Both arms run from copies of the code as Lambda gets them: our code as source only (a SAM build ships
no bytecode, so every cold start compiles it), and again with bytecode compiled beside it with
unchecked-hash invalidation (nothing on a read-only /var/task could refresh it); libraries carry the
bytecode pip compiled at install, in both. Nothing is written while measuring.
"""

from __future__ import annotations

import compileall
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.harness import CUSTOMER_QUERY, T
from local import lambdas, provision, template
from local.poller import QueuePoller

RUNS = 7
WORKER_ROWS = 1_000
LAMBDA_LIKE = {
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "AWS_REGION": "us-east-1",
    "LAMBDA_TASK_ROOT": "/var/task",
    "_HANDLER": "app.lambda_handler",
    "PYTHONDONTWRITEBYTECODE": "1",
}
# The child: a Lambda runtime's work for one cold invocation. It answers on stdout, then leaves at once
# (the runtime's process lives on; its teardown is no part of a cold start).
RUNTIME = """
import os, sys, json
sys.path[:0] = {path!r}
{before}
import importlib
handler = getattr(importlib.import_module({module!r}), {attribute!r})
class Context:
    function_name, function_version, memory_limit_in_mb = {function!r}, "$LATEST", 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + {function!r}
    aws_request_id, log_group_name, log_stream_name = "cold", "/aws/lambda/cold", "cold"
    def get_remaining_time_in_millis(self):
        return 30000
answer = handler(json.loads({event!r}), Context())
sys.stdout.write("ANSWER " + json.dumps(answer.get("statusCode", answer)) + "\\n")
sys.stdout.flush()
{after}
os._exit(0)
"""
RECORD = """
import botocore.client
CALLS = []
_make_api_call = botocore.client.BaseClient._make_api_call
def recorded(client, operation, params):
    CALLS.append((client.meta.service_model.service_name, operation, params))
    return _make_api_call(client, operation, params)
botocore.client.BaseClient._make_api_call = recorded
"""
MINIMAL = """
import boto3
from botocore.exceptions import ClientError
CALLS = {calls!r}
clients = {{}}
def lambda_handler(event, context):
    for service, operation, params in CALLS:
        client = clients.get(service) or clients.setdefault(service, boto3.client(service))
        try:
            client._make_api_call(operation, params)
        except ClientError:
            pass  # a conditional write that lost the second time round: still made
    return {{"statusCode": 200, "body": "{{}}"}}
"""


def first_requests(keys: dict[str, str]) -> dict[str, tuple[str, str, dict, object]]:
    """Per API function: a first request its clients make (method, path, headers, JSON body)."""
    public = {"x-api-key": keys["DEMO_PUBLIC_KEY"]}
    private = {"x-api-key": keys["DEMO_PRIVATE_KEY"]}
    event = {"type": "passthrough", "action": "qualify", "identifiers": {"fs_user_id": "cold-user"}}
    personas = {"computation_class": "audience", "computation_key": "cold", "space_id": "spa_demo"}
    track = {
        "writeKey": keys["DEMO_PUBLIC_KEY"],
        "type": "track",
        "userId": "cold-user",
        "event": "Audience Entered",
        "properties": {"audience_key": "cold", "cold": True},
        "context": {"personas": personas},
        "timestamp": "2025-06-02T07:59:59.000Z",
    }
    return {
        "IngestFunction": ("POST", "/v3/events", public, [event | {"data": {"audience_id": "cold", "ts": 1}}]),
        "TrackingFunction": ("POST", "/v1/track", {}, track),
        "SegmentsFunction": ("GET", "/v3/segments/cold", private, None),
        "GraphqlFunction": (  # as the Optimizely SDKs ask it
            "POST",
            "/v3/graphql",
            public,
            {"query": CUSTOMER_QUERY, "variables": {"userId": "cold-user", "audiences": ["cold"]}},
        ),
        "ConsoleFunction": ("GET", "/console", {}, None),
        "PrivacyRequestsFunction": (
            "POST",
            "/v3/compliance/gdpr/delete",
            private,
            [{"identifier_field_name": "fs_user_id", "identifier_value": "gone", "requester": "dpo@example.com"}],
        ),
    }


def serve_moto(plan: provision.Plan) -> str:
    """moto as `make run` serves it: a threaded server with DynamoDB's concurrency and transactions."""
    from werkzeug.serving import make_server

    from local import moto_fidelity
    from local.stack import HOST, MotoRequestHandler, _aws

    moto_fidelity.install()
    server = make_server(HOST, 0, _aws(plan), threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, name="moto", daemon=True).start()
    return f"http://{HOST}:{server.server_port}"


def _copies(functions: list[template.Function], root: Path) -> dict[str, dict[str, list[str]]]:
    """The layer and each function's code, copied as Lambda gets them: source only, and with bytecode."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    paths: dict[str, dict[str, list[str]]] = {"source": {}, "bytecode": {}}
    for kind in paths:
        layer = root / kind / "layer"
        shutil.copytree(lambdas.LAYER_DIR, layer, ignore=ignore)
        for function in functions:
            code = root / kind / function.logical_id
            shutil.copytree(function.code_dir, code, ignore=ignore)
            paths[kind][function.logical_id] = [str(code), str(layer)]
        if kind == "bytecode":
            compileall.compile_dir(
                root / kind, quiet=1, invalidation_mode=compileall.py_compile.PycInvalidationMode.UNCHECKED_HASH
            )
    return paths


def _answer_seconds(code: str, env: dict[str, str]) -> tuple[float, str]:
    """Seconds from starting an interpreter running `code` to its answer (past its log lines), and the answer."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
    line = ""
    while not line.startswith("ANSWER ") and (line := child.stdout.readline()):
        pass
    seconds = time.perf_counter() - started
    child.wait()
    return seconds, json.loads(line.removeprefix("ANSWER "))


def main() -> dict:
    from local.gateway import Router, proxy_event
    from local.stack import configure_process

    spec = template.load()
    functions, plan = template.functions(spec), provision.plan(spec)
    endpoint = serve_moto(plan)
    configure_process(plan, functions, endpoint)
    provision.provision(plan)

    from audiences import catalog
    from audiences.domain import OPERATOR, Audience
    from local.seed import seed_demo

    keys = seed_demo()
    catalog.create_audience("demo", Audience("cold", "cold"), OPERATOR)
    by_id = {function.logical_id: function for function in functions}
    router = Router([lambdas.load(by_id[name]) for name in first_requests(keys)])
    env = os.environ | LAMBDA_LIKE | {"POWERTOOLS_TRACE_DISABLED": "true"}
    results: dict = {"environment": LAMBDA_LIKE, "runs": RUNS}
    with tempfile.TemporaryDirectory() as scratch:
        workers = [by_id["ImportsFunction"], by_id["ApplyFunction"]]
        copies = _copies([by_id[name] for name in first_requests(keys)] + workers, Path(scratch))
        for name, (method, path, headers, body) in first_requests(keys).items():
            function = by_id[name]
            target, params = router.match(method, path)
            data = json.dumps(body).encode() if body is not None else b""
            event = proxy_event(
                target, params, method, path, [("content-type", "application/json"), *headers.items()], data
            )
            module, attribute = function.handler.rsplit(".", 1)
            ours = {
                "module": module.replace("/", "."),
                "attribute": attribute,
                "function": name,
                "event": json.dumps(event),
            }
            calls_file = Path(scratch) / f"{name}.calls"
            record = RUNTIME.format(
                path=copies["source"][name],
                before=RECORD,
                after=f"open({str(calls_file)!r}, 'w').write(repr(CALLS))",
                **ours,
            )
            _, status = _answer_seconds(record, env)
            calls = eval(calls_file.read_text())
            minimal_dir = Path(scratch) / "minimal" / name
            minimal_dir.mkdir(parents=True)
            (minimal_dir / "minimal.py").write_text(MINIMAL.format(calls=calls))
            entry = {"status": status, "aws_calls": [f"{service}.{operation}" for service, operation, _ in calls]}
            for kind in ("source", "bytecode"):
                runtime = RUNTIME.format(path=copies[kind][name], before="", after="", **ours)
                minimal = RUNTIME.format(
                    path=[str(minimal_dir)],
                    before="",
                    after="",
                    module="minimal",
                    attribute="lambda_handler",
                    function=name,
                    event=json.dumps(event),
                )
                ours_runs = [_answer_seconds(runtime, env)[0] for _ in range(RUNS)]
                minimal_runs = [_answer_seconds(minimal, env)[0] for _ in range(RUNS)]
                entry[kind] = {
                    "seconds": statistics.median(ours_runs),
                    "baseline_seconds": statistics.median(minimal_runs),
                    "ratio": statistics.median(ours_runs) / statistics.median(minimal_runs),
                }
            entry |= {key: entry["bytecode"][key] for key in ("seconds", "baseline_seconds", "ratio")}
            results[name] = entry
        results["upload_to_success"] = upload_to_success(copies, env, plan, by_id)
    results["target"] = "ratio <= 1.5 for every API function (INIT + first response, with bytecode as shipped)"
    return results


def upload_to_success(copies, env: dict[str, str], plan: provision.Plan, by_id: dict) -> dict:
    """An ODP audience file of WORKER_ROWS members uploaded, then imported and applied by cold workers: from
    the upload to SUCCESS, each worker a fresh interpreter (INIT and its one message), the messages taken
    from the queues as an event source mapping takes them (its own polling delay is not modeled). The
    median of 3, each the first import of an audience of its own."""
    import boto3

    from audiences import catalog
    from audiences.domain import OPERATOR, Audience
    from audiences.stores import imports as import_store

    s3 = boto3.client("s3", region_name=provision.REGION)
    runs = []
    for run in range(3):  # each a first import of an audience of its own
        segment = f"cold_import_{run}"
        catalog.create_audience("demo", Audience(segment, segment), OPERATOR)
        rows = "".join(f"passthrough,qualify,{segment},{T},user-{n}\n" for n in range(WORKER_ROWS))
        data = gzip.compress(("type,action,audience_id,ts,fs_user_id\n" + rows).encode())
        started = time.perf_counter()
        s3.put_object(Bucket=plan.names["ImportsBucket"], Key=f"demo/audience-diffs/{segment}.csv.gz", Body=data)
        workers = {
            name: _one_message(by_id[name], queue, copies["bytecode"][name], env, plan)
            for name, queue in (("ImportsFunction", "ImportsQueue"), ("ApplyFunction", "ApplyQueue"))
        }
        seconds = time.perf_counter() - started
        [latest], _ = import_store.page("demo", segment, None, None, 1)
        assert latest.status.value == "SUCCESS" and latest.qualified == WORKER_ROWS, latest
        runs.append({"seconds": seconds, **{f"{name}_seconds": worker for name, worker in workers.items()}})
    median = sorted(runs, key=lambda run: run["seconds"])[1]
    return {"rows": WORKER_ROWS, **median, "runs": runs}


def _one_message(function: template.Function, queue: str, path: list[str], env, plan: provision.Plan) -> float:
    """A cold worker's INIT and its handling of the one message waiting on `queue`: its seconds."""
    poller = QueuePoller(lambdas.load(function), plan.names[queue], retry_after_seconds=60)
    messages = poller.sqs.receive_message(
        QueueUrl=poller.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=5, AttributeNames=["All"]
    )["Messages"]
    event = {"Records": [poller.event_record(message) for message in messages]}
    module, attribute = function.handler.rsplit(".", 1)
    code = RUNTIME.format(
        path=path, before="", after="", module=module, attribute=attribute, function=function.logical_id,
        event=json.dumps(event),
    )  # fmt: skip
    seconds, answer = _answer_seconds(code, env)
    assert answer == {"batchItemFailures": []}, answer
    entries = [{"Id": str(n), "ReceiptHandle": message["ReceiptHandle"]} for n, message in enumerate(messages)]
    poller.sqs.delete_message_batch(QueueUrl=poller.queue_url, Entries=entries)
    return seconds


def bench_cold_start() -> dict:
    """`main` in a process of its own: its moto server and environment touch nothing of the bench's."""
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(lambdas.LAYER_DIR), str(template.ROOT)])}
    run = subprocess.run(
        [sys.executable, "-m", "bench.cold_start"], env=env, check=True, capture_output=True, text=True
    )
    return json.loads(run.stdout.splitlines()[-1])


if __name__ == "__main__":
    print(json.dumps(main()))
