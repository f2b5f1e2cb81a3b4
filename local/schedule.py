"""Runs a function with a Schedule event every few seconds, as EventBridge would every few minutes."""

from __future__ import annotations

import threading

from local.lambdas import LocalFunction


class Every(threading.Thread):
    def __init__(self, function: LocalFunction, seconds: int) -> None:
        super().__init__(name=f"schedule-{function.function.logical_id}", daemon=True)
        self.function, self.seconds = function, seconds
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.seconds):
            try:
                self.function.invoke({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
            except Exception as error:  # keep the schedule, as EventBridge would
                print(f"{self.name}: {type(error).__name__}: {error}", flush=True)
