"""`make run`: python -m local — the whole stack on loopback until Ctrl-C or SIGTERM."""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
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


STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def main() -> None:
    # Blocked before any thread starts, so every thread inherits the mask and a stop signal waits
    # for the sigwait below. A Python handler runs only when the main thread next runs bytecode,
    # and once in CI the stack slept through a SIGTERM for 20 s while its timers kept firing.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    faulthandler.register(signal.SIGQUIT, all_threads=True)  # Ctrl-\ prints every thread's stack
    stack = LocalStack(
        api_port=_port("API_PORT", 3000),
        aws_port=_port("AWS_PORT", 4566),
        state_dir=Path(os.environ.get("LOCAL_STATE_DIR") or ROOT / ".local"),
        demo_public_key=os.environ.get("DEMO_PUBLIC_KEY"),
        demo_private_key=os.environ.get("DEMO_PRIVATE_KEY"),
        queue_retry_seconds=_seconds("LOCAL_QUEUE_RETRY_SECONDS", 5),
        schedule_seconds=_seconds("LOCAL_SCHEDULE_SECONDS", 5),
    )
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
    signal.sigwait(STOP_SIGNALS)
    for signum in STOP_SIGNALS:  # a second Ctrl-C while stopping ends the process at once
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    stack.stop()
    print("local stack stopped", flush=True)


if __name__ == "__main__":
    main()
