"""The live training chart (an SVG while a job runs): the same curves and references as the Plotly figure."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from cfcore.figures.live import MAX_POINTS, training_svg
from cfcore.progress import EpochRecord, StepRecord

SVG = "{http://www.w3.org/2000/svg}"


def _steps(n: int, per_epoch: int = 100) -> list[StepRecord]:
    return [StepRecord(s, s // per_epoch + 1, (s % per_epoch) / per_epoch, 2.0 / (1 + s / 50), 1e6)
            for s in range(1, n + 1)]


def _epochs(n: int) -> list[EpochRecord]:
    return [EpochRecord(e, 0.5, 0.9 - 0.05 * e, 0.95 - 0.03 * e, 0.7, 0.005, 1.0, 1e6, True, 100 * e)
            for e in range(1, n + 1)]


def _points(polyline) -> list[tuple[float, float]]:
    return [tuple(map(float, p.split(","))) for p in polyline.get("points").split()]


def test_the_loss_line_follows_the_steps_and_is_thinned():
    svg = ET.fromstring(training_svg(_steps(3000), _epochs(3), {"bias_rmse": 0.9}, 100, 30))
    raw, smoothed = svg.findall(f"{SVG}polyline")[:2]
    raw_points = _points(raw)
    assert len(raw_points) == MAX_POINTS == len(_points(smoothed))
    xs, ys = zip(*raw_points)
    assert list(xs) == sorted(xs)  # left to right in step order
    assert ys[0] < ys[-1]  # the loss falls, and SVG's y grows downwards


def test_rmse_panel_draws_each_epoch_and_the_baselines_with_their_values():
    baselines = {"global_mean_rmse": 1.06, "bias_rmse": 0.895, "noise_floor": 0.5}
    text = training_svg(_steps(300), _epochs(4), baselines, 100, 10)
    svg = ET.fromstring(text)
    assert len(svg.findall(f"{SVG}circle")) == 2 * 4  # train and validation RMSE per epoch
    labels = [t.text for t in svg.iter(f"{SVG}text")]
    for label in ("global mean 1.060", "bias only 0.895", "noise floor (best possible) 0.500", "validation RMSE"):
        assert label in labels
    assert "validation RMSE appears when the first epoch ends" not in labels


def test_before_the_first_epoch_the_rmse_panel_says_why_it_is_empty():
    svg = ET.fromstring(training_svg(_steps(20), [], {"bias_rmse": 0.9}, 100, 10))
    assert "validation RMSE appears when the first epoch ends" in [t.text for t in svg.iter(f"{SVG}text")]
    assert not svg.findall(f"{SVG}circle")


@pytest.mark.parametrize("n_steps", [0, 1])
def test_no_or_one_step_still_draws(n_steps):
    text = training_svg(_steps(n_steps), [], {}, 100, 10)
    ET.fromstring(text)  # well-formed
    assert not re.search(r"nan|inf", text)
