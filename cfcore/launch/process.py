"""Runs in a process of their own on this machine: a run never waits on its caller's GIL, and outlives its caller.

The dashboard's server draws pages in Python while a run trains; in one process a page that computes for
a second holds the training loop up. So a helper process (``python -m cfcore.launch.process``, one per
caller, started on first use) imports the heavy modules once and forks a child per run. The child
receives a ``LaunchRequest``, runs it through ``run_request`` and streams every message back over a Unix
socket, the result last; "stop" (or the caller going away) stops it after the current step, and it still
evaluates. A result nobody is left to collect is saved by the child in the request's ``keep_in`` folder,
so a run is never lost with its server. The helper inherits its caller's environment, so the run gets the
caller's ``NUMBA_NUM_THREADS`` (the dashboard leaves a core to the page: ``ui/cores.py``), the same count
the Train page's estimate is timed with.

The socket carries pickles between this package's own processes only: a socket in a private folder, one
connection per run; nothing a user uploaded is unpickled.
"""

from __future__ import annotations

import atexit
import os
import pickle
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path

from cfcore.config import TrainConfig
from cfcore.data.dataset import Dataset
from cfcore.errors import CFError
from cfcore.estimate import warm_up
from cfcore.launch.base import Failed, Finished, LaunchRequest, Message, RunResult, Steps, failure, run_request
from cfcore.progress import RankerStepRecord, StepRecord
from cfcore.runs import save_run
from cfcore.split import Split
from cfcore.train import TrainingRun

CHILD_NICE = 10  # a run yields the CPU to the page being drawn; its compiled-step threads inherit this
SEND_EVERY_SECONDS = 0.25  # step records go to the caller in bunches: each message wakes its server up
READY_SECONDS = 120.0  # the helper's first start imports torch: seconds on a cold disk
COLLECT_SECONDS = 30.0  # a finished run waits this long for its caller to say it has the result, then keeps it


class ProcessLauncher:
    """Each run in a child of the preloaded helper process (Linux: fork)."""

    name = "process"

    @staticmethod
    def available() -> bool:
        """True where runs can train in a forked child (Linux)."""
        return sys.platform.startswith("linux") and hasattr(os, "fork") and hasattr(socket, "AF_UNIX")

    def describe(self) -> str:
        threads = os.environ.get("NUMBA_NUM_THREADS") or str(os.cpu_count() or 1)
        return f"this machine, a process of its own ({threads} training thread{'s' if threads != '1' else ''})"

    def prepare(self) -> None:
        """Start the helper now, off the caller's thread, so the first run does not wait for its imports."""
        threading.Thread(target=_start_quietly, name="cf-worker-start", daemon=True).start()

    def copy_bytes(self, dataset: Dataset, parts: Split) -> int:
        """The memory the training process takes for its copy of a run's data. Pickle protocol 5 hands the
        arrays' memory to a callback instead of copying it, so this costs a small pickle, not a copy."""
        buffers: list[pickle.PickleBuffer] = []
        head = pickle.dumps(LaunchRequest(dataset, parts, TrainConfig()), protocol=5, buffer_callback=buffers.append)
        return len(head) + sum(buffer.raw().nbytes for buffer in buffers)

    def launch(self, request: LaunchRequest) -> ProcessHandle:
        return ProcessHandle(request)


def _start_quietly() -> None:
    try:
        _helper()
    except CFError:  # the first run tries again and shows the message
        pass


class ProcessHandle:
    """One run in a child of the helper: iterate ``records()`` for its messages; ``stop()`` asks it to stop."""

    def __init__(self, request: LaunchRequest) -> None:
        self._conn = _helper().connect()
        self._lock = threading.Lock()  # stop() comes from another thread than the one reading messages
        self._result: RunResult | None = None
        try:
            self._conn.send(request)
        except OSError as exc:
            self._conn.close()
            raise CFError(f"could not hand the run to the training process: {exc}") from None

    def records(self, poll_seconds: float = 0.25) -> Iterator[Message | None]:
        try:
            while True:
                if not self._conn.poll(poll_seconds):
                    yield None
                    continue
                try:
                    message = self._conn.recv()
                except (EOFError, OSError):
                    yield Failed("the training process ended unexpectedly (killed, or out of memory?); "
                                 "the run was not saved; train again")
                    return
                if isinstance(message, Finished):
                    self._result = message.result
                    self._send("collected")  # the child need not keep the run itself
                yield message
                if isinstance(message, (Finished, Failed)):
                    return
        finally:
            self._conn.close()

    def stop(self) -> None:
        self._send("stop")

    def _send(self, word: str) -> None:
        with self._lock:
            try:
                self._conn.send(word)
            except (OSError, ValueError):  # already finished and closed
                pass

    def result(self) -> RunResult | None:
        return self._result


class _Helper:
    """The helper process and the private folder of its socket; restarted if it died."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="cfstudio-worker-"))  # mode 0700: only this user connects
        self.address = str(self.folder / "socket")
        package_root = str(Path(__file__).resolve().parents[2])  # the folder holding cfcore/
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        # stdin is the helper's lifeline: it exits when this process does and the pipe closes
        self.process = subprocess.Popen([sys.executable, "-m", "cfcore.launch.process", self.address], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, env=env)
        ready, _, _ = select.select([self.process.stdout], [], [], READY_SECONDS)
        line = self.process.stdout.readline() if ready else b""
        if line.strip() != b"ready":
            self.close()
            raise CFError("the training process did not start (see the server's log); try again")

    def alive(self) -> bool:
        return self.process.poll() is None

    def connect(self) -> Connection:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self.address)
        except OSError as exc:
            sock.close()
            raise CFError(f"could not reach the training process ({exc.strerror}); try again") from None
        return Connection(sock.detach())

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()  # the helper exits on EOF; its children finish and save their runs
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


_HELPER: _Helper | None = None
_HELPER_LOCK = threading.Lock()


def _helper() -> _Helper:
    global _HELPER
    with _HELPER_LOCK:
        if _HELPER is None or not _HELPER.alive():
            if _HELPER is not None:
                _HELPER.close()
            _HELPER = _Helper()
            atexit.register(_HELPER.close)
        return _HELPER


# -- the helper and its children -------------------------------------------------------------------


def _serve(address: str) -> None:
    """The helper: accept a connection per run and fork a child for it, until stdin closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C in the terminal is for the server; it closes stdin
    # torch's optimizers import torch._dynamo on first use (~2.5 s): once here rather than in every child
    import torch._dynamo  # noqa: F401
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # finished children are reaped by the kernel
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    os.dup2(2, 1)  # nobody reads the pipe after "ready": anything printed later goes to the caller's log
    while True:
        ready, _, _ = select.select([listener, sys.stdin], [], [])
        if sys.stdin in ready and not os.read(sys.stdin.fileno(), 4096):
            return  # the caller is gone
        if listener in ready:
            sock, _ = listener.accept()
            if os.fork() == 0:  # the helper is single-threaded and never ran a parallel kernel: fork is safe
                listener.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                try:
                    _train_child(Connection(sock.detach()))
                finally:
                    os._exit(0)
            sock.close()


def _train_child(conn: Connection) -> None:
    """One run: receive the request, warm the kernels up, train, and report every step, the result last."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, CHILD_NICE)
    except OSError:  # not allowed: run at normal priority
        pass
    request: LaunchRequest = conn.recv()
    run_box: list[TrainingRun] = []
    stop = threading.Event()
    collected = threading.Event()  # the caller has the result
    caller_gone = threading.Event()

    def listen() -> None:  # "stop", "collected", or the caller closing the connection (its server went away)
        while True:
            try:
                word = conn.recv()
            except (EOFError, OSError):
                caller_gone.set()
                word = "stop"
            if word == "collected":
                collected.set()
                return
            stop.set()
            if run_box:
                run_box[0].stop()
            if caller_gone.is_set():
                return

    def on_run(run: TrainingRun) -> None:
        run_box.append(run)
        if stop.is_set():
            run.stop()

    bunch = Steps([], [])
    sent = [0.0]  # the first step record goes at once: the page stops saying "starting"

    def send(message: Message) -> None:
        try:
            conn.send(message)
        except OSError:  # the caller is gone: the run still ends, and its result is kept below
            caller_gone.set()

    def emit(message: Message) -> None:
        now = time.time()
        if isinstance(message, (StepRecord, RankerStepRecord)):
            bunch.records.append(message)
            bunch.times.append(now)
            if now - sent[0] < SEND_EVERY_SECONDS:
                return
        if bunch.records:  # before any other message, so the caller sees them in order
            send(Steps(list(bunch.records), list(bunch.times)))
            bunch.records.clear()
            bunch.times.clear()
            sent[0] = now
        if not isinstance(message, (StepRecord, RankerStepRecord)):
            send(message)

    threading.Thread(target=listen, daemon=True).start()
    try:
        warm_up(request.config)  # load the compiled kernels here, so the first epoch's speed is the real one
        result = run_request(request, emit, on_run, ProcessLauncher().describe())
        deadline = time.time() + COLLECT_SECONDS
        while result is not None and not (collected.is_set() or caller_gone.is_set()) and time.time() < deadline:
            time.sleep(0.05)
        if result is not None and not collected.is_set() and request.keep_in:
            save_run(request.keep_in, result.load())  # nobody collected it: keep it where the caller would have
    except Exception as exc:  # the caller shows this; a child never dies silently
        try:
            conn.send(failure(exc))
        except OSError:
            pass


if __name__ == "__main__":
    # this file again under its own name: what the children send unpickles as cfcore.launch.process.*
    from cfcore.launch import process

    process._serve(sys.argv[1])
