"""Training in a process of its own: a run never waits on its caller's GIL, and outlives its caller.

The dashboard's server draws pages in Python while a run trains; in one process a page that computes for
a second holds the training loop up. So a helper process (``python -m cfcore.worker``, one per caller,
started on first use) imports the heavy modules once and forks a child per run. The child receives a
``TrainRequest``, trains it through ``train_and_save`` and streams every record back over a Unix socket;
"stop" (or the caller going away) stops it after the current step, and it still evaluates and saves what
it has. The helper inherits its caller's environment, so the run gets the caller's ``NUMBA_NUM_THREADS``
(the dashboard leaves a core to the page: ``ui/cores.py``), the same count the Train page's estimate is
timed with.

``train_and_save`` is the work itself, the same in a child or in a caller's thread (where fork is
not available, e.g. Windows and macOS). The socket carries pickles between this package's own
processes only: a socket in a private folder, one connection per run; nothing a user uploaded is unpickled.
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
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from cfcore.config import TrainConfig
from cfcore.data.dataset import Dataset
from cfcore.errors import CFError
from cfcore.estimate import warm_up
from cfcore.experiment import Evaluation, Experiment
from cfcore.recommender import Recommender
from cfcore.runs import RunInfo, save_run
from cfcore.split import Split, SplitSettings
from cfcore.train import EndRecord, EpochRecord, StepRecord, TrainingRun

CHILD_NICE = 10  # a run yields the CPU to the page being drawn; its compiled-step threads inherit this
SEND_EVERY_SECONDS = 0.25  # step records go to the caller in bunches: each message wakes its server up
READY_SECONDS = 120.0  # the helper's first start imports torch: seconds on a cold disk


@dataclass(frozen=True)
class TrainRequest:
    """Everything one run needs: the data, its split, the settings, and where the run is saved."""

    dataset: Dataset
    parts: Split
    config: TrainConfig
    runs_dir: str
    split_settings: SplitSettings = SplitSettings()
    dataset_hash: str = ""
    evaluation: Evaluation = Evaluation()


@dataclass(frozen=True)
class Started:
    """The run is set up (data on its device, baselines known) and about to take its first step."""

    device: str
    notes: list[str]
    baselines: dict[str, float]
    pid: int  # the process that trains (this one in a thread, the child otherwise)


@dataclass(frozen=True)
class Steps:
    """Step records of the last ``SEND_EVERY_SECONDS``, with the wall-clock time each was made at."""

    records: list[StepRecord]
    times: list[float]


@dataclass(frozen=True)
class Finished:
    """The run ended and, when an epoch (or part of one) was kept, was saved as ``run``."""

    reason: str  # EndRecord.reason: completed | early_stopping | stopped | diverged
    message: str
    run: RunInfo | None
    ladder: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Failed:
    """The run could not train or save; ``message`` says why, ``detail`` is for the log."""

    message: str
    detail: str = ""


Message = Started | StepRecord | Steps | EpochRecord | EndRecord | Finished | Failed


def train_and_save(request: TrainRequest, emit: Callable[[Message], None],
                   on_run: Callable[[TrainingRun], None] = lambda run: None) -> Recommender | None:
    """Train ``request`` to its end, save it and return the kept model (None when nothing was kept).

    ``emit`` gets every message in order; ``on_run`` gets the run as soon as it exists (to stop it).
    Errors propagate: the caller turns them into ``Failed``.
    """
    experiment = Experiment(request.dataset, request.parts, request.config, request.split_settings,
                            dataset_hash=request.dataset_hash or None, evaluation=request.evaluation)
    run = experiment.run
    on_run(run)
    emit(Started(run.device_name, list(run.notes), dict(run.baselines), os.getpid()))
    for record in experiment:
        emit(record)
    result = experiment.finish()
    saved = save_run(request.runs_dir, result) if result is not None else None
    emit(Finished(run.end.reason, run.end.message, saved, experiment.ladder if result is not None else {}))
    return result


def failure(exc: BaseException) -> Failed:
    """The message a page shows for an error raised while training."""
    if isinstance(exc, CFError):
        return Failed(str(exc))
    return Failed(f"training failed: {type(exc).__name__}: {exc}", traceback.format_exc(limit=3))


# -- the request's size ---------------------------------------------------------------------------------


def handoff_bytes(dataset: Dataset, parts: Split) -> int:
    """The memory a training process takes for its copy of a run's data (0 where runs train in a thread
    of the caller, on the caller's own copy). Pickle protocol 5 hands the arrays' memory to a callback
    instead of copying it, so this costs a small pickle, not a copy of the data."""
    if not available():
        return 0
    buffers: list[pickle.PickleBuffer] = []
    head = pickle.dumps(TrainRequest(dataset, parts, TrainConfig(), ""), protocol=5, buffer_callback=buffers.append)
    return len(head) + sum(buffer.raw().nbytes for buffer in buffers)


# -- the caller's side ------------------------------------------------------------------------------


def available() -> bool:
    """True where runs can train in a forked child (Linux); elsewhere callers train in a thread."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and hasattr(socket, "AF_UNIX")


def start_in_background() -> None:
    """Start the helper now, off the caller's thread, so the first run does not wait for its imports."""
    if available():
        threading.Thread(target=_start_quietly, name="cf-worker-start", daemon=True).start()


def _start_quietly() -> None:
    try:
        _helper()
    except CFError:  # the first run tries again and shows the message
        pass


class TrainingProcess:
    """One run in a child of the helper: iterate ``messages()`` for its records; ``stop()`` asks it to stop."""

    def __init__(self, request: TrainRequest) -> None:
        self._conn = _helper().connect()
        self._lock = threading.Lock()  # stop() comes from another thread than the one reading messages
        try:
            self._conn.send(request)
        except OSError as exc:
            self._conn.close()
            raise CFError(f"could not hand the run to the training process: {exc}") from None

    def messages(self, poll_seconds: float = 0.25) -> Iterator[Message | None]:
        """Each message as it arrives, and None every ``poll_seconds`` without one (so the caller can
        check on its browser session); ends after ``Finished`` or ``Failed``."""
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
                yield message
                if isinstance(message, (Finished, Failed)):
                    return
        finally:
            self._conn.close()

    def stop(self) -> None:
        with self._lock:
            try:
                self._conn.send("stop")
            except (OSError, ValueError):  # already finished and closed
                pass


class _Helper:
    """The helper process and the private folder of its socket; restarted if it died."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="cfstudio-worker-"))  # mode 0700: only this user connects
        self.address = str(self.folder / "socket")
        package_root = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        # stdin is the helper's lifeline: it exits when this process does and the pipe closes
        self.process = subprocess.Popen([sys.executable, "-m", "cfcore.worker", self.address], stdin=subprocess.PIPE,
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
    """One run: receive the request, warm the kernels up, train, save, and report every step."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, CHILD_NICE)
    except OSError:  # not allowed: run at normal priority
        pass
    request: TrainRequest = conn.recv()
    run_box: list[TrainingRun] = []
    stop = threading.Event()

    def listen() -> None:  # "stop", or the caller closing the connection (its server went away)
        try:
            conn.recv()
        except (EOFError, OSError):
            pass
        stop.set()
        if run_box:
            run_box[0].stop()

    def on_run(run: TrainingRun) -> None:
        run_box.append(run)
        if stop.is_set():
            run.stop()

    bunch = Steps([], [])
    sent = [0.0]  # the first step record goes at once: the page stops saying "starting"

    def send(message: Message) -> None:
        try:
            conn.send(message)
        except OSError:  # the caller is gone: the run still ends and is saved
            pass

    def emit(message: Message) -> None:
        now = time.time()
        if isinstance(message, StepRecord):
            bunch.records.append(message)
            bunch.times.append(now)
            if now - sent[0] < SEND_EVERY_SECONDS:
                return
        if bunch.records:  # before any other message, so the caller sees them in order
            send(Steps(list(bunch.records), list(bunch.times)))
            bunch.records.clear()
            bunch.times.clear()
            sent[0] = now
        if not isinstance(message, StepRecord):
            send(message)

    threading.Thread(target=listen, daemon=True).start()
    try:
        warm_up(request.config)  # load the compiled kernels here, so the first epoch's speed is the real one
        train_and_save(request, emit, on_run)
    except Exception as exc:  # the caller shows this; a child never dies silently
        try:
            conn.send(failure(exc))
        except OSError:
            pass


if __name__ == "__main__":
    from cfcore import worker  # this file again under its own name: what the children send unpickles as cfcore.worker.*

    worker._serve(sys.argv[1])
