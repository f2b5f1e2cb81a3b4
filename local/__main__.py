"""`make run`: python -m local — the whole stack on loopback until Ctrl-C or SIGTERM."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

from local.stack import LocalStack
from local.template import ROOT


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name) or str(default)
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        sys.exit(f"{name} must be a TCP port number (1-65535), got {raw!r}")
    return int(raw)


def _seconds(name: str, default: int) -> int:
    raw = os.environ.get(name) or str(default)
    if not raw.isdigit():
        sys.exit(f"{name} must be whole seconds, got {raw!r}")
    return int(raw)


def main() -> None:
    stack = LocalStack(
        api_port=_port("API_PORT", 3000),
        aws_port=_port("AWS_PORT", 4566),
        state_dir=Path(os.environ.get("LOCAL_STATE_DIR") or ROOT / ".local"),
        demo_public_key=os.environ.get("DEMO_PUBLIC_KEY"),
        demo_private_key=os.environ.get("DEMO_PRIVATE_KEY"),
        queue_retry_seconds=_seconds("LOCAL_QUEUE_RETRY_SECONDS", 5),
        schedule_seconds=_seconds("LOCAL_SCHEDULE_SECONDS", 5),
    )
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        settings = stack.start()
    except OSError as error:
        sys.exit(f"could not start the local stack: {error} (is another one running? set API_PORT/AWS_PORT)")
    print(
        "\nPassthrough Audiences is running locally.\n"
        f"  API          {settings['API_URL']}   (routes from template.yaml)\n"
        f"  AWS (moto)   {settings['AWS_ENDPOINT_URL']}   (tables, buckets, queues from template.yaml)\n"
        f"  tenant demo  public key  {settings['DEMO_PUBLIC_KEY']}\n"
        f"               private key {settings['DEMO_PRIVATE_KEY']}\n"
        f"  source {stack.state_dir / 'demo.env'} to use them; Ctrl-C stops (data is in memory only).\n",
        flush=True,
    )
    stopping.wait()
    stack.stop()
    print("local stack stopped", flush=True)


if __name__ == "__main__":
    main()
