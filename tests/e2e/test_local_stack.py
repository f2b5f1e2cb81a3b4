"""The running local stack: routing from the template, S3 -> SQS -> imports, invoke against it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import openapi_spec_validator
import requests

from local.provision import REGION
from local.template import ROOT
from tests.conftest import PLAN
from tests.e2e.conftest import running_stack


def aws(stack, service: str):
    return boto3.client(
        service, endpoint_url=stack.aws_url, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )


def test_routes_not_in_the_template_answer_like_api_gateway(stack):
    reply = stack.call("GET", "/v3/not-a-route", key=stack.private_key)
    assert (reply.status_code, reply.json()) == (403, {"message": "Missing Authentication Token"})


def test_every_unrouted_method_and_path_answers_like_api_gateway_over_http(stack):
    for method in ("TRACE", "PROPFIND", "BREW", "PUT"):
        for path in ("/v3/graphql", "/spaces/demo/audiences", "/nowhere"):
            reply = requests.request(method, stack.api_url + path, timeout=10)
            assert (reply.status_code, reply.json()) == (403, {"message": "Missing Authentication Token"}), method
            assert reply.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    head = requests.head(stack.api_url + "/nowhere", timeout=10)
    assert head.status_code == 403 and head.content == b""


def test_keys_are_checked_and_scoped(stack):
    body = {"definition": {"external": {"external_audience_id": "x"}}}
    assert stack.call("PUT", "/v3/segments/scoped", key="wrong", json=body).status_code == 403
    assert stack.call("PUT", "/v3/segments/scoped", key=stack.public_key, json=body).status_code == 403
    assert stack.call("PUT", "/v3/segments/scoped", key=stack.private_key, json=body).json() == {"revision": 1}


def test_every_template_resource_exists_in_local_aws(stack):
    tables = aws(stack, "dynamodb").list_tables()["TableNames"]
    assert sorted(tables) == sorted(PLAN.names[t] for t in PLAN.of_type("AWS::DynamoDB::Table"))
    buckets = [b["Name"] for b in aws(stack, "s3").list_buckets()["Buckets"]]
    assert sorted(buckets) == sorted(PLAN.names[b] for b in PLAN.of_type("AWS::S3::Bucket"))
    queues = aws(stack, "sqs").list_queues()["QueueUrls"]
    assert sorted(url.rsplit("/", 1)[1] for url in queues) == sorted(
        PLAN.names[q] for q in PLAN.of_type("AWS::SQS::Queue")
    )


def test_make_invoke_runs_a_handler_against_the_running_stack(stack):
    env = os.environ | {"LOCAL_STATE_DIR": str(stack.state_dir)}
    run = subprocess.run(
        [sys.executable, "-m", "local.invoke", "IngestFunction", "events/ingest-qualify.json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "against the running local stack" in run.stderr
    assert json.loads(run.stdout[run.stdout.index("{\n") :])["statusCode"] == 202
    query = {"query": '{customer(fs_user_id: "user-123") {audiences {edges {node {name}}}}}'}
    reply = stack.call("POST", "/v3/graphql", key=stack.public_key, json=query)
    assert "errors" not in reply.json()  # the invoked event's membership is in the running stack


def test_the_stack_serves_its_openapi_document_swagger_ui_and_the_console(stack):
    document = stack.call("GET", "/openapi.json")
    openapi_spec_validator.validate(document.json())
    assert "/v3/segments/{segment_id}" in document.json()["paths"]
    for path, content_type, text in [
        ("/docs", "text/html", "openapi.json"),
        ("/docs/swagger-ui-bundle.min.js", "text/javascript", "SwaggerUIBundle"),
        ("/console", "text/html", "Private key"),
        ("/console/console.js", "text/javascript", "sessionStorage"),
    ]:
        reply = stack.call("GET", path)
        assert reply.status_code == 200 and reply.headers["Content-Type"].startswith(content_type), path
        assert text in reply.text, path
    assert stack.call("GET", "/console/api/audiences", key=stack.private_key).status_code == 200
    assert stack.call("GET", "/console/api/audiences", key=stack.public_key).status_code == 401


def test_only_the_main_thread_takes_a_stop_signal(stack):
    """Blocked in every thread the stack started, SIGINT and SIGTERM wait for the main thread's
    sigwait (which unblocks them in that thread alone), whichever thread they reach."""
    stop_signals = (1 << (signal.SIGINT - 1)) | (1 << (signal.SIGTERM - 1))
    masks = {}  # thread id -> the signals it blocks
    for status in Path(f"/proc/{stack.pid}/task").glob("*/status"):
        if status.parent.name == str(stack.pid):
            continue  # the main thread, in sigwait
        fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        masks[status.parent.name] = int(fields["SigBlk"], 16)
    assert len(masks) > 5  # moto, the gateway, pollers and timers, beside the main thread
    assert {name: mask & stop_signals for name, mask in masks.items()} == dict.fromkeys(masks, stop_signals)


def test_a_stop_lets_the_invocation_in_flight_finish_before_aws_goes(tmp_path):
    answers, stopping = [], threading.Event()
    with running_stack(tmp_path / ".local") as own:

        def upload_until_stopped() -> None:
            session = requests.Session()
            while not stopping.is_set():
                events = [
                    {
                        "type": "passthrough",
                        "action": "qualify",
                        "identifiers": {"email": f"u{n}@x.com"},
                        "data": {"audience_id": "stop", "ts": time.time()},
                    }
                    for n in range(100)
                ]
                try:
                    reply = session.post(
                        own.api_url + "/v3/events", json=events, headers={"x-api-key": own.public_key}, timeout=5
                    )
                except requests.RequestException:  # the stack has stopped listening
                    return
                answers.append(reply.status_code)

        uploader = threading.Thread(target=upload_until_stopped, daemon=True)
        uploader.start()
        while len(answers) < 3:
            time.sleep(0.05)
    stopping.set()  # the stack has stopped: SIGTERM came while uploads were being applied
    uploader.join(timeout=10)
    assert set(answers) == {202}, answers
    assert "Traceback" not in own.log.read_text()
