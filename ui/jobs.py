"""Background jobs owned by one browser session (training, sweeps, t-SNE): a thread drives a core generator or,
for training, follows a run wherever a launcher put it (``cfcore/launch``) and saves the result it hands back.

The thread never calls Streamlit; pages read the job's plain attributes from a fragment that redraws
every second or two. A job whose session stops polling for ``ORPHAN_SECONDS`` stops itself.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from cfcore.config import TrainConfig
from cfcore.data.dataset import Dataset
from cfcore.errors import CFError
from cfcore.launch import registry as launchers
from cfcore.launch.base import Failed, Finished, Launcher, LaunchRequest, Message, Stage, Started, Steps, failure
from cfcore.progress import EndRecord, EpochRecord, RankerEpochRecord, RankerStepRecord, StepRecord
from cfcore.projection import tsne_stages
from cfcore.queries import Recommender
from cfcore.ratings import Ratings
from cfcore.records import Evaluation
from cfcore.runs import RunInfo, run_label, save_run
from cfcore.split import Split, SplitSettings

ORPHAN_SECONDS = 60.0
RATE_WINDOW_SECONDS = 5.0  # ratings/s is averaged over this much wall-clock time, not one step
_JOBS: dict[str, _BackgroundJob] = {}  # every job of this server process by id, so a reloaded tab finds its job
_JOBS_LOCK = threading.Lock()


def find_job(job_id: str) -> _BackgroundJob | None:
    """The job with this id, if this server process still has it (a reload re-attaches through it)."""
    with _JOBS_LOCK:
        return _JOBS.get(job_id)
BACKGROUND_NICE = 10  # jobs run below the page the user is looking at (and their worker threads inherit it)


@dataclass
class JobState:
    """What a page may read about a job (written only by the job's thread)."""

    status: str = "starting"  # starting | running | finishing | done | stopped | diverged | failed
    message: str = ""
    steps: list[StepRecord] = field(default_factory=list)
    step_times: list[float] = field(default_factory=list)  # wall clock of each step record
    epochs: list[EpochRecord] = field(default_factory=list)
    ranker_steps: list[RankerStepRecord] = field(default_factory=list)  # the tuned model's, when it trains
    ranker_epochs: list[RankerEpochRecord] = field(default_factory=list)
    end: EndRecord | None = None
    stage: str = ""  # after the last epoch: what the run is doing ("judging the lists ...")
    stage_since: float = 0.0  # ... since when (time.time())
    finishing_since: float = 0.0  # when the last epoch ended (0: not yet)
    baselines: dict[str, float] = field(default_factory=dict)  # the RMSE lines of the live chart
    device: str = ""
    where: str = ""  # the launcher's description of where it trains
    pid: int | None = None  # the process that trains (a child of the server's training helper, or the server)
    notes: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    finished: float | None = None
    result: Recommender | None = None  # the kept model, carrying its record, once saved
    run_info: RunInfo | None = None


class _BackgroundJob:
    """A daemon thread owned by one browser session; it stops on ``stop()`` or when nobody watches it."""

    thread_name = "cf-job"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self.last_seen = time.time()
        self.job_id = secrets.token_hex(6)
        self._thread = threading.Thread(target=self._run_in_background, name=self.thread_name, daemon=True)

    def _run_in_background(self) -> None:
        # Linux gives each thread its own nice value; the compiled step's worker threads are created by
        # this thread and inherit it, so the server's rerun of a page (a Stop click, a chart redraw)
        # gets the CPU first while training takes whatever is left
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)
        except (AttributeError, OSError):  # not Linux, or not allowed: run at normal priority
            pass
        self._work()

    def _work(self) -> None:  # pragma: no cover - subclasses do the work
        raise NotImplementedError

    def start(self):
        with _JOBS_LOCK:
            for job_id in [k for k, job in _JOBS.items() if not job.running]:  # finished ones are not needed
                del _JOBS[job_id]
            _JOBS[self.job_id] = self
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()

    def heartbeat(self) -> None:
        """Called by the page on every redraw; a job nobody watches stops itself."""
        self.last_seen = time.time()

    @property
    def orphaned(self) -> bool:
        """True once no page has redrawn it for ORPHAN_SECONDS (the browser tab was closed)."""
        return time.time() - self.last_seen > ORPHAN_SECONDS

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)


class TrainingJob(_BackgroundJob):
    """One training run, handed to a launcher (by default ``launch.registry.choose()``: a process of its own
    where the platform allows) and followed by a thread of the server, which saves the result as a run.
    ``stop()`` ends it after the current step."""

    thread_name = "cf-training"

    def __init__(self, dataset: Dataset, parts: Split, config: TrainConfig, runs_dir: Path,
                 split_settings: SplitSettings = SplitSettings(), dataset_hash: str = "",
                 evaluation: Evaluation = Evaluation(), launcher: Launcher | None = None,
                 finish_seconds: float | None = None, test: Ratings | None = None, group: str = "") -> None:
        self.dataset, self.parts, self.config, self.runs_dir = dataset, parts, config, Path(runs_dir)
        # how long the work after the epochs (ranking fit, judging the lists, saving) took a run like this one
        # here; the ETA counts it, so "0 s left" is not followed by a minute at 100%. None: not known yet
        self.finish_seconds = finish_seconds
        self.group = group  # a repeat on another split seed: the group its record joins (cfcore/repeats.py)
        # split settings and the data's hash go into the run's record, so a saved run finds its split again;
        # keep_in: where the training side saves a result this server was not there to collect
        self.request = LaunchRequest(dataset, parts, config, split_settings, dataset_hash, evaluation,
                                     keep_in=str(runs_dir), test=test)
        self.launcher = launcher or launchers.choose()
        self.state = JobState()
        self.steps_per_epoch = config.steps_per_epoch(len(parts.train))
        self._handle = None  # what stop() calls once the run is launched
        super().__init__()

    def stop(self) -> None:
        super().stop()
        if self._handle is not None:
            self._handle.stop()

    def stop_and_wait(self) -> None:
        """Stop, and return once the training loop has ended (the model may still be saving)."""
        self.stop()
        self.wait_for_loop_end()

    def wait_for_loop_end(self, timeout: float = 2.0) -> None:
        """Wait (briefly) until the training loop has ended, not for the model to be saved."""
        deadline = time.time() + timeout
        while self.running and self.state.end is None and time.time() < deadline:
            time.sleep(0.02)

    def _work(self) -> None:
        try:
            handle = self.launcher.launch(self.request)
            self._handle = handle
            if self._stop.is_set():  # Stop was clicked while the run was handed over
                handle.stop()
            for message in handle.records():
                self._follow(message)
            result = handle.result()
            if result is not None:
                self._take(Stage("saving the run"))
                model = result.load()
                if self.group:
                    model = model.with_record(dataclasses.replace(model.record, group=self.group))
                info = save_run(self.runs_dir, model)
                self.state.run_info, self.state.result = info, model
        except Exception as exc:  # never let a thread die silently: the page shows this
            self._take(failure(exc))
        finally:
            self.state.finished = time.time()

    def _follow(self, message: Message | None) -> None:
        """Take a message of the run (None: none came this poll), and stop the run once nobody watches it."""
        if message is not None:
            self._take(message)
        if self.orphaned and not self._stop.is_set():
            self.stop()  # the browser session is gone

    def _take(self, message: Message) -> None:
        """Record one message of the run in ``state``, which the page reads."""
        state = self.state
        if isinstance(message, Steps):
            for record, at in zip(message.records, message.times):
                self._take_step(record, at)
        elif isinstance(message, (StepRecord, RankerStepRecord)):
            self._take_step(message, time.time())
        elif isinstance(message, EpochRecord):
            state.epochs.append(message)
        elif isinstance(message, RankerEpochRecord):
            state.ranker_epochs.append(message)
        elif isinstance(message, EndRecord):
            state.end = message
            state.status = "finishing"  # the loop is over; keeping the best model and saving it
            state.message = message.message
            state.stage, state.stage_since = "keeping the best epoch", time.time()
            state.finishing_since = state.stage_since
        elif isinstance(message, Stage):
            state.stage, state.stage_since = message.what, time.time()
        elif isinstance(message, Started):
            state.device, state.notes, state.pid = message.device, list(message.notes), message.pid
            state.where = message.where
            state.baselines = dict(message.baselines)
            if self.dataset.noise_floor is not None:  # synthetic data: the best any model can reach
                state.baselines["noise_floor"] = self.dataset.noise_floor
            state.status = "running"
        elif isinstance(message, Finished):
            state.status = {"completed": "done", "early_stopping": "done"}.get(message.reason, message.reason)
            state.message = message.message
        elif isinstance(message, Failed):
            state.status, state.message = "failed", message.message
            if message.detail:
                state.notes.append(message.detail)

    def _take_step(self, record: StepRecord | RankerStepRecord, at: float) -> None:
        if isinstance(record, RankerStepRecord):
            self.state.ranker_steps.append(record)
        else:
            self.state.steps.append(record)
            self.state.step_times.append(at)

    # -- derived numbers for the progress bar -----------------------------------------------

    def progress(self) -> tuple[float, str]:
        """(fraction done, "epoch 3/10 · 1.2M ratings/s · ETA 12 s")."""
        state, cfg = self.state, self.config
        if not state.steps:
            return 0.0, "starting..."
        last = state.steps[-1]
        total_steps = cfg.epochs * self.steps_per_epoch
        done = min(1.0, last.step / total_steps)
        if state.end is not None:  # the loop is over; a rate and ETA from its last, cut-short window would mislead
            reason = state.end.reason
            doing = self.finishing_text()
            if reason in ("stopped", "diverged"):
                return done, f"epoch {last.epoch}/{cfg.epochs} · {reason} · {doing}"
            # an early stop is a finished run: a bar left at 8/30 next to "finished" reads as a stall
            ended = "finished early: validation stopped improving" if reason == "early_stopping" else "finished"
            return 1.0, f"epoch {last.epoch}/{cfg.epochs} · {ended} · {doing}"
        lists = state.ranker_epochs[-1] if state.ranker_epochs else None
        if lists is not None and lists.epoch > last.epoch:  # the stars stopped; the lists model trains on
            return lists.epoch / cfg.epochs, (f"epoch {lists.epoch}/{cfg.epochs} · the stars are done; training "
                                              f"the lists: NDCG@10 {lists.val_ndcg:.3f}")
        rate = self.ratings_per_second()
        if rate is None:
            return done, f"epoch {last.epoch}/{cfg.epochs} · measuring speed…"
        eta = (total_steps - last.step) * cfg.batch_for(len(self.parts.train)) / rate + (self.finish_seconds or 0.0)
        rate_text = f"{rate / 1e6:.2f}M" if rate >= 1e6 else f"{rate / 1e3:.0f}K"
        return done, f"epoch {last.epoch}/{cfg.epochs} · {rate_text} ratings/s · at most {_duration(eta)} left"

    def finishing_text(self) -> str:
        """After the epochs: what the run is doing and for how long, and the time left when a run like it was
        timed here ("judging the lists beside Most popular, EASE · 4 s, about 3 s left…")."""
        state, now = self.state, time.time()
        doing = state.stage or "saving the run"
        if not state.finishing_since:
            return f"{doing}…"
        text = f"{doing} · {_duration(now - state.stage_since)}"
        if self.finish_seconds:
            text += f", about {_duration(max(self.finish_seconds - (now - state.finishing_since), 1.0))} left"
        return text + "…"

    def ratings_per_second(self) -> float | None:
        """Ratings trained per wall-clock second over the last RATE_WINDOW_SECONDS (validation included),
        so the sidebar and the page show the same steady figure; None until a second has passed."""
        steps, times = self.state.steps, self.state.step_times
        n = min(len(steps), len(times))
        if n < 2:
            return None
        now_step, now = steps[n - 1].step, times[n - 1]
        then = n - 2
        while then > 0 and now - times[then - 1] <= RATE_WINDOW_SECONDS:
            then -= 1
        span = now - times[then]
        if span < 1.0:
            return None
        return (now_step - steps[then].step) * self.config.batch_for(len(self.parts.train)) / span


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass
class SweepResult:
    config: TrainConfig
    status: str
    val_rmse: float | None = None
    best_epoch: int | None = None
    seconds: float = 0.0
    run_id: str | None = None
    ndcg: float | None = None  # NDCG@k of the run's lists on the validation split


class SweepJob(_BackgroundJob):
    """A grid of configs trained one after another, each a ``TrainingJob`` with the same data, split and
    evaluation as the Train page's runs."""

    thread_name = "cf-sweep"

    def __init__(self, dataset: Dataset, parts: Split, base: TrainConfig, grid: dict[str, list], runs_dir: Path,
                 split_settings: SplitSettings = SplitSettings(), dataset_hash: str = "",
                 evaluation: Evaluation = Evaluation(), launcher: Launcher | None = None) -> None:
        self.dataset, self.parts, self.runs_dir = dataset, parts, runs_dir
        self.split_settings, self.dataset_hash, self.evaluation = split_settings, dataset_hash, evaluation
        self.launcher = launcher
        keys = list(grid)
        self.configs = [base.replace(**dict(zip(keys, values))) for values in itertools.product(*grid.values())]
        self.grid_keys = keys
        self.results: list[SweepResult] = []
        self.current: TrainingJob | None = None
        self.status = "running"
        self.message = ""
        super().__init__()

    def stop(self) -> None:
        super().stop()
        if self.current is not None:
            self.current.stop()

    def heartbeat(self) -> None:
        super().heartbeat()
        if self.current is not None:
            self.current.heartbeat()

    def _work(self) -> None:
        for config in self.configs:
            if self._stop.is_set() or self.orphaned:
                break
            job = TrainingJob(self.dataset, self.parts, config, self.runs_dir, self.split_settings, self.dataset_hash,
                              self.evaluation, self.launcher)
            self.results.append(self._train(job))
        self.current = None
        self.status = "stopped" if self._stop.is_set() else "done"
        self.message = f"{len(self.results)} of {len(self.configs)} runs finished"

    def _train(self, job: TrainingJob) -> SweepResult:
        """Run ``job`` to its end (the sweep's heartbeat and stop reach it through ``current``) and say how it went."""
        job.last_seen = self.last_seen
        self.current = job
        job.start()
        while job.running:  # one run at a time
            job.join(0.2)
        state = job.state
        record = state.result.record if state.result is not None else None
        return SweepResult(job.config, state.status, record.val_rmse if record else None,
                           record.best_epoch if record else None, (state.finished or time.time()) - state.started,
                           state.run_info.run_id if state.run_info else None,
                           record.ranking.ndcg if record and record.ranking else None)


class RepeatJob(SweepJob):
    """One run's settings trained again on other split seeds, one after another; each saved run joins ``group``.

    Only the split seed changes: the data, the split method and fraction, the hyperparameters (their own
    seed included) and the evaluation are the repeated run's."""

    thread_name = "cf-repeat"

    def __init__(self, dataset: Dataset, config: TrainConfig, split_settings: SplitSettings, seeds: list[int],
                 group: str, runs_dir: Path, dataset_hash: str = "", evaluation: Evaluation = Evaluation(),
                 launcher: Launcher | None = None) -> None:
        super().__init__(dataset, None, config, {}, runs_dir, split_settings, dataset_hash, evaluation, launcher)
        self.configs = [config] * len(seeds)
        self.seeds, self.group = list(seeds), group

    def _work(self) -> None:
        for seed in self.seeds:
            if self._stop.is_set() or self.orphaned:
                break
            settings = dataclasses.replace(self.split_settings, seed=seed)
            try:
                parts = settings.apply(self.dataset.ratings)
            except CFError as exc:
                self.results.append(SweepResult(self.configs[0], "failed"))
                self.message = f"split seed {seed}: {exc}"
                continue
            self.results.append(self._train(TrainingJob(self.dataset, parts, self.configs[0], self.runs_dir, settings,
                                                        self.dataset_hash, self.evaluation, self.launcher,
                                                        group=self.group)))
        self.current = None
        self.status = "stopped" if self._stop.is_set() else "done"
        saved = sum(r.run_id is not None for r in self.results)
        self.message = (f"{saved} of {len(self.seeds)} repeats saved (split seeds "
                        f"{', '.join(map(str, self.seeds))})" + (f"; {self.message}" if self.message else ""))


def absorb_finished(job: TrainingJob | None, session: dict, absorbed_key: str, set_active) -> bool:
    """Once a job has ended, make its model the active one (exactly once); True if it did just now."""
    if job is None or job.running or session.get(absorbed_key):
        return False
    session[absorbed_key] = True
    s = job.state
    if s.result is not None:
        run_id = s.run_info.run_id if s.run_info else None
        set_active(s.result, run_id, run_label(run_id or "unsaved", s.result.record), job.parts.val)
    return True


class TsneJob(_BackgroundJob):
    """t-SNE of some rows of an embedding matrix, in stages so a page can show how far it got."""

    thread_name = "cf-tsne"

    def __init__(self, embeddings, rows) -> None:
        self.embeddings, self.rows = embeddings, rows
        self.done = 0.0  # share of the stages finished
        self.coords = None  # (n, 2) once finished
        self.error = ""
        self.started = time.time()
        super().__init__()

    def elapsed(self) -> float:
        return time.time() - self.started

    def resume(self) -> TsneJob:
        """Start again if an earlier ``stop()`` ended it unfinished (the page came back to these rows)."""
        if not self.running and self.coords is None and not self.error:
            self._stop.clear()
            self.done, self.started = 0.0, time.time()
            self._thread = threading.Thread(target=self._run_in_background, name=self.thread_name, daemon=True)
            self.start()
        return self

    def _work(self) -> None:
        try:
            latest = None
            for done, stage_coords in tsne_stages(self.embeddings, self.rows):
                if self._stop.is_set():
                    return
                self.done, latest = done, stage_coords
            self.coords = latest
        except CFError as exc:
            self.error = str(exc)
        except Exception as exc:  # never let a thread die silently: the page shows this
            self.error = f"t-SNE failed: {type(exc).__name__}: {exc}"
