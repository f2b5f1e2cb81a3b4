"""The whole local stack in one process: moto, resources from the template, handlers, gateway, poller."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from botocore.credentials import Credentials
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from local import iam, lambdas, moto_fidelity, provision, template
from local.gateway import Router, serve
from local.poller import QueuePoller
from local.presigned import PresignedUrlCheck
from local.schedule import Every

HOST = "127.0.0.1"  # loopback only: the local stack has no real authentication of AWS calls
CREDENTIALS = Credentials("local", "local")  # what the functions sign with, and presigned URLs are checked against
STOP_GRACE_SECONDS = 10  # how long stopping waits for the invocation in flight


def configure_process(plan: provision.Plan, functions: list[template.Function], endpoint_url: str | None) -> None:
    """Make this process look like the functions' Lambda environment, pointed at local AWS."""
    os.environ.pop("AWS_PROFILE", None)
    os.environ.update(
        AWS_ACCESS_KEY_ID=CREDENTIALS.access_key,
        AWS_SECRET_ACCESS_KEY=CREDENTIALS.secret_key,
        AWS_REGION=provision.REGION,
        AWS_DEFAULT_REGION=provision.REGION,
        POWERTOOLS_TRACE_DISABLED="true",  # no X-Ray daemon here
    )
    os.environ.update(plan.environment(functions))
    iam.ENFORCER.enforce(plan)
    if endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = endpoint_url
    lambdas.use_layer()


def _aws(plan: provision.Plan) -> PresignedUrlCheck:
    """moto's server, behind S3's checks of presigned URLs for the template's buckets."""
    return PresignedUrlCheck(
        DomainDispatcherApplication(create_backend_app),
        buckets=frozenset(plan.names[logical_id] for logical_id in plan.of_type("AWS::S3::Bucket")),
        credentials=CREDENTIALS,
        region=provision.REGION,
    )


@dataclass
class LocalStack:
    api_port: int = 3000
    aws_port: int = 4566
    state_dir: Path = template.ROOT / ".local"
    demo_public_key: str | None = None
    demo_private_key: str | None = None
    queue_retry_seconds: int = 5
    schedule_seconds: int = 5  # how often Schedule events fire locally (minutes on AWS)
    _stoppers: list = field(default_factory=list)  # what starts invocations, in start order
    _moto: BaseWSGIServer | None = None

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.api_port}"

    @property
    def aws_url(self) -> str:
        return f"http://{HOST}:{self.aws_port}"

    def start(self) -> dict[str, str]:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request access log
        spec = template.load()
        functions = template.functions(spec)
        plan = provision.plan(spec, provision.local_parameters(os.environ.get("PARAMETER_OVERRIDES", "")))
        moto_fidelity.install()
        moto = make_server(HOST, self.aws_port, _aws(plan), threaded=True, request_handler=MotoRequestHandler)
        threading.Thread(target=moto.serve_forever, name="moto", daemon=True).start()
        self._moto = moto
        configure_process(plan, functions, self.aws_url)
        provision.provision(plan)

        from audiences.settings import Settings  # the layer is importable only after configure_process
        from local.seed import seed_demo

        loaded = [lambdas.load(function) for function in functions]
        keys = seed_demo(self.demo_public_key, self.demo_private_key)

        server = serve(Router(loaded), HOST, self.api_port)
        threading.Thread(target=server.serve_forever, name="gateway", daemon=True).start()
        self._stoppers += [server.shutdown, server.server_close]
        # Every poller is made before any starts: an invocation in flight lends its role to threads acting as
        # no function, so a queue looked up after one started would be looked up as that function.
        starters = [
            QueuePoller(function, plan.names[queue], self.queue_retry_seconds, batch_size)
            for function in loaded
            for queue, batch_size in function.function.queues
        ]
        starters += [Every(function, self.schedule_seconds) for function in loaded if function.function.scheduled]
        for starter in starters:
            starter.start()
            self._stoppers.append(starter.stopping.set)

        settings = {
            **keys,
            "API_URL": self.api_url,
            "AWS_ENDPOINT_URL": self.aws_url,
            "AWS_REGION": provision.REGION,
            **{
                resource.variable: plan.intrinsics.resolve({"Ref": resource.logical_id})
                for resource in Settings.resources()
            },
        }
        self.state_dir.mkdir(parents=True, exist_ok=True)
        env_file = self.state_dir / "demo.env"
        env_file.write_text("".join(f"export {name}={value}\n" for name, value in settings.items()))
        env_file.chmod(0o600)
        return settings

    def stop(self) -> None:
        """Stop what starts invocations, let the one running finish, then stop AWS under it."""
        for stop in self._stoppers:
            stop()
        self._stoppers.clear()
        # Held from here on: an invocation cut off from AWS would retry into the void, and a
        # thread of its pool would keep the process from exiting. Past the grace, stop anyway.
        lambdas.invocation_lock.acquire(timeout=STOP_GRACE_SECONDS)
        if self._moto is not None:
            self._moto.shutdown()
            self._moto = None
