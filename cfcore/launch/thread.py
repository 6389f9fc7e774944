"""Runs in a thread of the caller's process: where fork is missing (Windows, macOS) and for tests.

The run shares the caller's interpreter (and its GIL) and trains on the caller's copy of the data, so
nothing is copied; its messages cross to the caller through a queue.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator

from cfcore.launch.base import Failed, Finished, LaunchRequest, Message, RunResult, failure, run_request
from cfcore.train import TrainingRun

BACKGROUND_NICE = 10  # the trainer thread yields the CPU to the caller's own work (a page being drawn)


class ThreadLauncher:
    """Each run in a daemon thread of this process."""

    name = "thread"

    @staticmethod
    def available() -> bool:
        return True

    def describe(self) -> str:
        threads = os.environ.get("NUMBA_NUM_THREADS") or str(os.cpu_count() or 1)
        return f"this machine, a thread of this process ({threads} training thread{'s' if threads != '1' else ''})"

    def prepare(self) -> None:
        return None

    def copy_bytes(self, dataset, parts) -> int:
        return 0  # the run reads the caller's arrays

    def launch(self, request: LaunchRequest) -> ThreadHandle:
        return ThreadHandle(request, self.describe())


class ThreadHandle:
    """One run in a thread; its messages in a queue the caller drains."""

    def __init__(self, request: LaunchRequest, where: str) -> None:
        self._queue: queue.Queue[Message] = queue.Queue()
        self._run: TrainingRun | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._result: RunResult | None = None
        self._thread = threading.Thread(target=self._work, args=(request, where), name="cf-run", daemon=True)
        self._thread.start()

    def _work(self, request: LaunchRequest, where: str) -> None:
        # Linux gives each thread its own nice value; the compiled step's worker threads are created by this
        # thread and inherit it, so the caller's own work (a page redraw, a Stop click) gets the CPU first
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)
        except (AttributeError, OSError):  # not Linux, or not allowed: run at normal priority
            pass
        try:
            run_request(request, self._queue.put, self._started, where)
        except Exception as exc:  # never let a thread die silently: the caller shows this
            self._queue.put(failure(exc))

    def _started(self, run: TrainingRun) -> None:
        with self._lock:
            self._run = run
            if self._stop.is_set():
                run.stop()

    def records(self, poll_seconds: float = 0.25) -> Iterator[Message | None]:
        while True:
            try:
                message = self._queue.get(timeout=poll_seconds)
            except queue.Empty:
                yield None
                continue
            if isinstance(message, Finished):
                self._result = message.result
            yield message
            if isinstance(message, (Finished, Failed)):
                return

    def stop(self) -> None:
        with self._lock:
            self._stop.set()
            if self._run is not None:
                self._run.stop()

    def result(self) -> RunResult | None:
        return self._result
