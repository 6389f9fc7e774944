"""Hardening of the engine and jobs: memory refusal, atomic runs under SIGKILL, orphaned jobs, safe names."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cfcore import checkpoint, resources
from cfcore.config import TrainConfig
from cfcore.errors import CFError, ConfigError
from cfcore.runs import import_checkpoint, list_runs, load_run, run_path
from cfcore.split import split
from cfcore.train import TrainingRun
from tests.conftest import fit

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def parts(small_synthetic):
    return split(small_synthetic.dataset.ratings, "random", 0.1, seed=0)


@pytest.fixture(scope="module")
def fitted(parts, small_synthetic):
    return fit(small_synthetic.dataset, TrainConfig(embedding_dim=8, epochs=2))


def test_run_that_cannot_fit_in_memory_is_refused_with_the_estimate(parts, monkeypatch):
    monkeypatch.setattr(resources, "available_memory", lambda device: 10 * 2**20)  # 10 MiB free
    with pytest.raises(ConfigError, match=r"needs about .* MiB .* parameters.* but only 10.0 MiB is free.*"
                                          r"lower the embedding dimension \(1024\)"):
        TrainingRun(parts.train, parts.val, TrainConfig(embedding_dim=1024))
    TrainingRun(parts.train, parts.val, TrainConfig(embedding_dim=4))  # a small one still fits


def test_the_estimate_counts_the_training_process_copy_of_the_data(parts, monkeypatch):
    from cfcore.estimate import estimate_resources

    plain = estimate_resources(parts.train, parts.val, TrainConfig(embedding_dim=4), timing_seconds=0)
    copied = estimate_resources(parts.train, parts.val, TrainConfig(embedding_dim=4), timing_seconds=0,
                                handoff_bytes=5 * 2**20)
    assert copied.data_bytes - plain.data_bytes == copied.total_bytes - plain.total_bytes == 5 * 2**20
    assert copied.handoff_bytes == 5 * 2**20 and plain.handoff_bytes == 0
    # with only the copy's room missing, the run is refused before it starts
    from cfcore.sizes import HEADROOM

    monkeypatch.setattr(resources, "available_memory", lambda device: int(copied.total_bytes / HEADROOM) - 1)
    assert estimate_resources(parts.train, parts.val, TrainConfig(embedding_dim=4), timing_seconds=0).fits
    assert not estimate_resources(parts.train, parts.val, TrainConfig(embedding_dim=4), timing_seconds=0,
                                  handoff_bytes=5 * 2**20).fits


SAVER = """
import time
from cfcore import checkpoint
from cfcore.runs import save_run
rec = checkpoint.load({model!r})
print("ready", flush=True)
while True:
    save_run({runs!r}, rec)
"""


def test_runs_folder_stays_readable_when_killed_mid_save(fitted, tmp_path):
    model = checkpoint.save(fitted, tmp_path / "model.pt")
    runs = tmp_path / "runs"
    for attempt in range(4):  # kill at different moments of the save loop
        proc = subprocess.Popen([sys.executable, "-c", SAVER.format(model=str(model), runs=str(runs))],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.3 + 0.37 * attempt)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    listed = list_runs(runs)
    assert listed and all(r.readable for r in listed), [r.error for r in listed if not r.readable]
    for info in listed[:3]:
        assert load_run(runs, info.run_id).n_items == fitted.n_items
    leftovers = [p.name for p in runs.iterdir() if p.name.startswith(".")]
    assert all(name.startswith(".tmp-") for name in leftovers)  # hidden, never listed as runs


def test_uploaded_checkpoint_names_never_become_paths(fitted, tmp_path):
    runs = tmp_path / "runs"
    info, _ = import_checkpoint(runs, checkpoint.to_bytes(fitted), "../../../etc/evil.pt")
    assert info.path.parent == runs and info.record.source == "uploaded evil.pt"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]
    for bad in ("../x", "a/b", "..", "", ".hidden"):
        with pytest.raises(CFError, match="invalid run id"):
            run_path(runs, bad)


def test_job_whose_session_is_gone_stops(parts, small_synthetic, tmp_path, monkeypatch):
    from ui import jobs

    monkeypatch.setattr(jobs, "ORPHAN_SECONDS", 0.5)
    job = jobs.TrainingJob(small_synthetic.dataset, parts, TrainConfig(epochs=10_000, embedding_dim=4,
                                                                        early_stopping=None), tmp_path)
    job.start()  # nobody calls heartbeat(): the browser tab was closed
    job.join(timeout=30)
    assert not job.running and job.state.status == "stopped"
    assert len(job.state.epochs) < 10_000


def test_job_runs_at_low_priority_and_a_stopped_one_shows_no_rate_or_eta(parts, small_synthetic, tmp_path):
    from ui import jobs

    job = jobs.TrainingJob(small_synthetic.dataset, parts, TrainConfig(epochs=10_000, embedding_dim=4,
                                                                        early_stopping=None, log_every=1), tmp_path)
    job.heartbeat()
    job.start()
    deadline = time.time() + 30
    while "ratings/s" not in job.progress()[1] and time.time() < deadline:  # a rate after a second of steps
        time.sleep(0.05)
    assert "ratings/s" in job.progress()[1] and "left" in job.progress()[1]  # while it runs
    if sys.platform == "linux":  # the run trains in a process of its own that yields the CPU to the page drawn
        from cfcore.launch import process

        assert job.state.pid not in (None, os.getpid())
        assert os.getpriority(os.PRIO_PROCESS, job.state.pid) >= process.CHILD_NICE
    job.stop()
    job.wait_for_loop_end()
    text = job.progress()[1]
    assert "stopped" in text and "ratings/s" not in text and "left" not in text, text
    job.join(timeout=30)


def test_ratings_per_second_is_a_wall_clock_average_over_seconds_not_one_step(parts, small_synthetic, tmp_path):
    from cfcore.progress import StepRecord
    from ui import jobs

    config = TrainConfig(epochs=2, batch_size=1000)
    job = jobs.TrainingJob(small_synthetic.dataset, parts, config, tmp_path)  # not started: records planted
    assert job.ratings_per_second() is None and "starting" in job.progress()[1]
    now = time.time()
    # 100 records, one step each 0.1 s, each claiming a wildly different instantaneous rate
    for n in range(100):
        job.state.steps.append(StepRecord(n + 1, 1, (n + 1) / 27, 1.0, [13e3, 15e6, 87e3][n % 3]))
        job.state.step_times.append(now - 9.9 + 0.1 * n)
    assert job.ratings_per_second() == pytest.approx(10_000, rel=0.03)  # 1000 ratings / 0.1 s, over 5 s
    remaining = 2 * 27 - 100  # more steps recorded than two epochs: the ETA never goes negative
    assert "10K ratings/s" in job.progress()[1] and "0 s left" in job.progress()[1] and remaining < 0


@pytest.mark.parametrize("reason, fraction, words", [
    ("early_stopping", 1.0, "finished early: validation stopped improving"),
    ("completed", 1.0, "finished"),
    ("stopped", 8 / 30, "stopped"),
    ("diverged", 8 / 30, "diverged"),
])
def test_the_bar_of_a_run_that_ended_says_why_and_fills_only_if_it_finished(parts, small_synthetic, tmp_path, reason,
                                                                             fraction, words):
    from cfcore.progress import EndRecord, StepRecord
    from ui import jobs

    job = jobs.TrainingJob(small_synthetic.dataset, parts, TrainConfig(epochs=30), tmp_path)  # records planted
    per_epoch = job.steps_per_epoch
    job.state.steps.append(StepRecord(8 * per_epoch, 8, 1.0, 1.0, 1e6))
    job.state.end = EndRecord(reason, "", 5, 0.9)
    done, text = job.progress()
    assert done == pytest.approx(fraction)
    assert text == f"epoch 8/30 · {words} · saving the run…"
