"""The launchers (cfcore/launch): a run in a process of its own or in a thread, and the job that follows either (ui/jobs.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from cfcore.config import TrainConfig
from cfcore.launch import process, registry
from cfcore.launch.process import ProcessLauncher
from cfcore.launch.thread import ThreadLauncher
from cfcore.runs import list_runs
from cfcore.split import split
from ui import jobs

pytestmark = pytest.mark.skipif(not ProcessLauncher.available(), reason="runs train in a forked child on Linux only")


@pytest.fixture(scope="module")
def parts(small_synthetic):
    return split(small_synthetic.dataset.ratings, "random", 0.1, seed=0)


def _train(small_synthetic, parts, runs_dir, config=TrainConfig(epochs=3, embedding_dim=8), launcher=None):
    job = jobs.TrainingJob(small_synthetic.dataset, parts, config, runs_dir, launcher=launcher)
    job.heartbeat()
    job.start()
    job.join(timeout=120)
    assert not job.running
    return job


def test_a_run_in_the_training_process_equals_the_same_run_in_this_thread(small_synthetic, parts, tmp_path,
                                                                          monkeypatch):
    in_process = _train(small_synthetic, parts, tmp_path / "a")
    monkeypatch.setattr(ProcessLauncher, "available", staticmethod(lambda: False))  # as on a platform without fork
    assert isinstance(registry.choose(), ThreadLauncher) and isinstance(registry.choose("process"), ThreadLauncher)
    in_thread = _train(small_synthetic, parts, tmp_path / "b")
    assert in_process.launcher.name == "process" and in_thread.launcher.name == "thread"
    assert in_process.state.status == in_thread.state.status == "done"
    assert in_process.state.pid != os.getpid() and in_thread.state.pid == os.getpid()
    a, b = in_process.state.result, in_thread.state.result
    # the compiled step gives the same numbers on any number of threads, so the models are identical
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    assert a.record.val_rmse == b.record.val_rmse < in_process.state.baselines["bias_rmse"]
    assert a.record.ladder == b.record.ladder and a.record.ranking is not None
    assert a.record.where.launcher.startswith("this machine, a process") and "thread" in b.record.where.launcher
    assert len(in_process.state.epochs) == len(in_thread.state.epochs) == 3
    # step records come over in bunches, each stamped with the time it was made: all of them, in order
    assert [s.step for s in in_process.state.steps] == [s.step for s in in_thread.state.steps]
    times = in_process.state.step_times
    assert len(times) == len(in_process.state.steps) and times == sorted(times)
    assert in_process.state.started <= times[0] and times[-1] <= in_process.state.finished
    assert in_process.state.baselines["noise_floor"] == small_synthetic.dataset.noise_floor
    # the result came back as data and the caller saved it: one run folder each, holding the same record
    assert [r.run_id for r in list_runs(tmp_path / "a")] == [in_process.state.run_info.run_id]
    assert list_runs(tmp_path / "b")[0].record.val_rmse == list_runs(tmp_path / "a")[0].record.val_rmse


def test_a_killed_training_process_is_reported_and_the_next_run_still_trains(small_synthetic, parts, tmp_path):
    job = jobs.TrainingJob(small_synthetic.dataset, parts, TrainConfig(epochs=10_000, embedding_dim=4,
                                                                        early_stopping=None), tmp_path)
    job.heartbeat()
    job.start()
    deadline = time.time() + 60
    while not job.state.epochs and time.time() < deadline:
        time.sleep(0.05)
    os.kill(job.state.pid, signal.SIGKILL)  # the kernel's out-of-memory killer, say
    job.join(timeout=30)
    assert job.state.status == "failed" and "ended unexpectedly" in job.state.message
    assert job.state.result is None and list_runs(tmp_path) == []
    assert _train(small_synthetic, parts, tmp_path).state.status == "done"


def test_a_dead_helper_is_started_again(small_synthetic, parts, tmp_path):
    helper = process._helper()
    helper.process.kill()
    helper.process.wait(10)
    job = _train(small_synthetic, parts, tmp_path)
    assert job.state.status == "done" and process._helper() is not helper


def test_stop_before_the_first_epoch_ends_keeps_a_partial_run(tmp_path):
    from cfcore.synthetic import SyntheticSpec, generate

    dataset = generate(SyntheticSpec(n_ratings=400_000, n_users=2000, n_items=1000, seed=3)).dataset
    config = TrainConfig(epochs=3, embedding_dim=32, batch_size=32, log_every=1)  # 11,250 steps an epoch
    job = jobs.TrainingJob(dataset, split(dataset.ratings, "random", 0.1, seed=0), config, tmp_path)
    job.heartbeat()
    job.start()
    deadline = time.time() + 60
    while not job.state.steps and time.time() < deadline:  # the first step record comes at once
        time.sleep(0.005)
    job.stop_and_wait()
    job.join(timeout=60)
    assert job.state.status == "stopped" and not job.state.epochs[-1].completed >= 1.0
    assert job.state.result is not None and "partial" in job.state.message
    assert list_runs(tmp_path)[0].run_id == job.state.run_info.run_id


CALLER = """
import sys, time
from cfcore.config import TrainConfig
from cfcore.split import split
from cfcore.synthetic import SyntheticSpec, generate
from ui import jobs
data = generate(SyntheticSpec(n_ratings=30_000, n_users=400, n_items=300, seed=7)).dataset
job = jobs.TrainingJob(data, split(data.ratings, "random", 0.1, 0),
                       TrainConfig(epochs=10_000, embedding_dim=4, early_stopping=None), sys.argv[1])
job.heartbeat()
job.start()
while len(job.state.epochs) < 2:
    time.sleep(0.02)
print("training", flush=True)
time.sleep(120)
"""


def test_a_run_whose_server_is_killed_still_stops_and_is_saved(tmp_path):
    caller = subprocess.Popen([sys.executable, "-c", CALLER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert caller.stdout.readline().strip() == "training"
    finally:
        caller.kill()  # SIGKILL: no clean-up of its own runs
        caller.wait()
    deadline = time.time() + 60
    while not list_runs(tmp_path) and time.time() < deadline:
        time.sleep(0.1)
    runs = list_runs(tmp_path)
    # the training process saw its caller go, stopped after the current step and saved what it had
    assert len(runs) == 1 and runs[0].readable and 2 <= len(runs[0].record.epochs) < 10_000


def test_the_helper_starts_in_the_background_before_the_first_run(monkeypatch):
    monkeypatch.setattr(process, "_HELPER", None)  # as in a server that has not trained yet
    ProcessLauncher().prepare()  # what app.py does once per server
    deadline = time.time() + 120
    while process._HELPER is None and time.time() < deadline:
        time.sleep(0.05)
    assert process._HELPER is not None and process._HELPER.alive()


def test_the_estimate_counts_the_copy_of_the_data_the_training_process_holds(small_synthetic, parts):
    arrays = sum(r.user_idx.nbytes + r.item_idx.nbytes + r.rating.nbytes
                 for r in (parts.train, parts.val, small_synthetic.dataset.ratings))
    assert arrays <= ProcessLauncher().copy_bytes(small_synthetic.dataset, parts) < 1.2 * arrays + 1_000_000
    assert ThreadLauncher().copy_bytes(small_synthetic.dataset, parts) == 0  # a thread reads the caller's arrays


def test_after_its_epochs_a_run_says_what_it_is_doing_and_times_it(small_synthetic, parts, tmp_path):
    from cfcore.launch.base import Finished, LaunchRequest, Stage, run_request
    from cfcore.progress import EndRecord

    messages = []
    config = TrainConfig(epochs=2, embedding_dim=8, ranking_model="ease")
    result = run_request(LaunchRequest(small_synthetic.dataset, parts, config), messages.append, lambda run: None,
                         "here")
    end = next(i for i, m in enumerate(messages) if isinstance(m, EndRecord))
    stages = [m.what for m in messages[end:] if isinstance(m, Stage)]
    assert stages == ["keeping the best epoch", "fitting the EASE (item-item) ranking model",
                      "judging the lists beside most popular, rating model (MF)", "measuring where it errs",
                      "packing the model"]
    assert isinstance(messages[-1], Finished) and all(not isinstance(m, Stage) for m in messages[:end])
    assert 0 < result.record.ranking_seconds <= result.record.finish_seconds
    # the job shows the stage on its bar, with the time left when a run like it was timed here before
    job = jobs.TrainingJob(small_synthetic.dataset, parts, config, tmp_path, finish_seconds=30.0)
    for message in messages[:end + 4]:  # up to "judging the lists"
        job._take(message)
    job.state.finishing_since = job.state.stage_since - 4.0  # 4 s after the last epoch
    done, text = job.progress()
    assert done == 1.0
    assert text.endswith("finished · judging the lists beside most popular, rating model (MF) · 0 s, "
                         "about 26 s left…"), text
    unknown = jobs.TrainingJob(small_synthetic.dataset, parts, config, tmp_path)
    for message in messages[:end + 3]:
        unknown._take(message)
    assert unknown.progress()[1].endswith("· fitting the EASE (item-item) ranking model · 0 s…")
