"""The Optimizely Python SDK, configured by a static datafile to use the local stack as its ODP."""

from __future__ import annotations

import json
import logging

from optimizely import optimizely
from optimizely.logger import adapt_logger


def datafile(api_url: str, public_key: str, segments: list[str] = ()) -> str:
    """A minimal v4 datafile whose ODP integration points at `api_url`.

    One audience per segment, with ODP's `qualified` condition, so the SDK knows which
    segments to ask about.
    """
    audiences = [
        {
            "id": f"aud_{segment}",
            "name": segment,
            "conditions": [
                "and",
                {"type": "third_party_dimension", "name": "odp.audiences", "match": "qualified", "value": segment},
            ],
        }
        for segment in segments
    ]
    return json.dumps(
        {
            "version": "4",
            "accountId": "1",
            "projectId": "1",
            "revision": "1",
            "sdkKey": "local",
            "environmentKey": "production",
            "anonymizeIP": True,
            "botFiltering": False,
            "attributes": [],
            "audiences": [],
            "typedAudiences": audiences,
            "events": [],
            "experiments": [],
            "featureFlags": [],
            "groups": [],
            "rollouts": [],
            "variables": [],
            "integrations": [{"key": "odp", "host": api_url, "publicKey": public_key}],
        }
    )


class RecordingLogger(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.levelname} {record.getMessage()}")


def client(api_url: str, public_key: str, segments: list[str] = ()) -> tuple[optimizely.Optimizely, RecordingLogger]:
    recorder = RecordingLogger()
    log = logging.getLogger(f"optimizely-e2e-{id(recorder)}")
    log.setLevel(logging.DEBUG)
    log.addHandler(recorder)
    sdk = optimizely.Optimizely(datafile=datafile(api_url, public_key, segments), logger=adapt_logger(log))
    assert sdk.is_valid, recorder.messages
    return sdk, recorder
