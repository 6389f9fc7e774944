"""The live training chart drawn while a job runs: the same two panels as `charts.training_figure`, as a
static SVG string.

Why not Plotly while training: on a 2-core machine the browser redrawing a Plotly figure every couple of
seconds took 1.2-1.9 s of CPU per 5 s (about 250 ms per redraw in Plotly's bundle and forced layouts),
and training in the same machine lost that time (bench/dashboard_speed.py). An SVG of a few polylines costs
the browser a few milliseconds. When the run ends the page shows the interactive Plotly figure.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np

from cfcore.figures.charts import smooth
from cfcore.figures.style import ACCENT, BLUE, DARK, GREEN, GREY, GRID, INK

WIDTH, HEIGHT = 1000, 360  # viewBox units (one row of panels); the SVG scales to the column's width
PANEL_W, TOP, BOTTOM = 410, 40, 290  # each panel's plot width, plot top and bottom (first row)
ROW = 330  # how far down a second row of panels (the lists model's) starts
LEFTS = (60, 560)  # each panel's plot left edge
MAX_POINTS = 400  # the loss line is thinned to this many points: more cannot be seen at this width


def _ticks(low: float, high: float, n: int = 4) -> list[float]:
    """About n round values covering [low, high] (1, 2 or 5 times a power of ten apart)."""
    span = high - low if high > low else abs(high) or 1.0
    raw = span / n
    power = 10 ** np.floor(np.log10(raw))
    step = min((m * power for m in (1, 2, 5, 10) if m * power >= raw), default=raw)
    first = np.ceil(low / step) * step
    return [float(v) for v in np.arange(first, high + step * 1e-9, step)]


def _fmt(value: float) -> str:
    return f"{value:.3g}"


class _Panel:
    """Maps data to one panel's viewBox coordinates and collects its SVG elements."""

    def __init__(self, left: float, x_range: tuple[float, float], y_range: tuple[float, float], row: int = 0):
        self.left, self.parts = left, []
        self.top, self.bottom = TOP + row * ROW, BOTTOM + row * ROW
        (self.x0, self.x1), (self.y0, self.y1) = x_range, y_range
        if self.x1 <= self.x0:
            self.x1 = self.x0 + 1
        if self.y1 <= self.y0:
            self.y0, self.y1 = self.y0 - 0.5, self.y1 + 0.5

    def x(self, v: float) -> float:
        return self.left + (v - self.x0) / (self.x1 - self.x0) * PANEL_W

    def y(self, v: float) -> float:
        return self.bottom - (v - self.y0) / (self.y1 - self.y0) * (self.bottom - self.top)

    def axes(self, title: str, x_ticks: Sequence[float]) -> None:
        right, bottom = self.left + PANEL_W, self.bottom
        self.parts.append(f'<text x="{self.left + PANEL_W / 2}" y="{self.top - 18}" text-anchor="middle" '
                          f'font-size="16">{html.escape(title)}</text>')
        for v in _ticks(self.y0, self.y1):
            y = self.y(v)
            self.parts.append(f'<line x1="{self.left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
                              f'<text x="{self.left - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(v)}</text>')
        for v in x_ticks:
            x = self.x(v)
            self.parts.append(f'<text x="{x:.1f}" y="{bottom + 18}" text-anchor="middle">{_fmt(v)}</text>')
        self.parts.append(f'<text x="{self.left + PANEL_W / 2}" y="{bottom + 38}" text-anchor="middle">epoch</text>'
                          f'<line x1="{self.left}" x2="{right}" y1="{bottom}" y2="{bottom}" stroke="{GREY}"/>')

    def line(self, xs: Sequence[float], ys: Sequence[float], colour: str, width: float = 2, opacity: float = 1,
             markers: bool = False) -> None:
        points = " ".join(f"{self.x(a):.1f},{self.y(b):.1f}" for a, b in zip(xs, ys))
        self.parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="{width}" '
                          f'opacity="{opacity}"/>')
        if markers:
            self.parts.extend(f'<circle cx="{self.x(a):.1f}" cy="{self.y(b):.1f}" r="4" fill="{colour}"/>'
                              for a, b in zip(xs, ys))

    def level(self, value: float, label: str, colour: str) -> None:
        y = self.y(value)
        self.parts.append(f'<line x1="{self.left}" x2="{self.left + PANEL_W}" y1="{y:.1f}" y2="{y:.1f}" '
                          f'stroke="{colour}" stroke-dasharray="4 4"/>'
                          f'<text x="{self.left + PANEL_W}" y="{y - 4:.1f}" text-anchor="end" fill="{colour}">'
                          f"{html.escape(label)}</text>")


def _legend(items: Sequence[tuple[str, str]], height: float) -> str:
    parts, x = [], 60.0
    for label, colour in items:
        parts.append(f'<line x1="{x}" x2="{x + 24}" y1="{height - 6}" y2="{height - 6}" stroke="{colour}" '
                     f'stroke-width="3"/><text x="{x + 30}" y="{height - 2}">{html.escape(label)}</text>')
        x += 40 + 8 * len(label)
    return "".join(parts)


def training_svg(steps: Sequence, epochs: Sequence, baselines: dict[str, float], steps_per_epoch: int,
                 total_epochs: int, ranker_steps: Sequence = (), ranker_epochs: Sequence = (),
                 lists: bool = False) -> str:
    """Loss per step (raw and smoothed) and train/validation RMSE per epoch with the baselines, as SVG; with
    ``lists`` (a ranking model trained beside the stars) a second row: its loss per step and its NDCG@10 per
    epoch on the validation sample, against most popular's on the same users."""
    out = []
    loss = _Panel(LEFTS[0], (0, total_epochs), (0, 1))
    if steps:
        keep = np.unique(np.linspace(0, len(steps) - 1, min(len(steps), MAX_POINTS)).astype(int))
        x = np.array([steps[i].step / steps_per_epoch for i in keep])
        raw = np.array([s.train_loss for s in steps])
        y, trend = raw[keep], smooth(raw)[keep]
        loss = _Panel(LEFTS[0], (0, max(float(x[-1]), 1e-9)), (min(0.0, float(y.min())), float(y.max()) * 1.05))
        loss.line(x, y, GREY, width=1, opacity=0.5)
        loss.line(x, trend, ACCENT)
    loss.axes("Training loss (MSE) per step", _ticks(loss.x0, loss.x1))
    out.extend(loss.parts)

    levels = [(key, label, colour) for key, label, colour in (
        ("global_mean_rmse", "global mean", DARK), ("bias_rmse", "bias only", DARK),
        ("noise_floor", "noise floor (best possible)", GREEN)) if key in baselines]
    values = [baselines[key] for key, _, _ in levels]
    values += [v for e in epochs for v in (e.train_rmse, e.val_rmse)]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    pad = (high - low) * 0.08 or 0.05
    rmse = _Panel(LEFTS[1], (1, max(2, len(epochs))), (low - pad, high + pad))
    rmse.axes("RMSE per epoch", [e.epoch for e in epochs] if len(epochs) <= 20 else _ticks(1, len(epochs)))
    for key, label, colour in levels:
        rmse.level(baselines[key], f"{label} {baselines[key]:.3f}", colour)
    if epochs:
        ex = [e.epoch for e in epochs]
        rmse.line(ex, [e.train_rmse for e in epochs], GREY, markers=True)
        rmse.line(ex, [e.val_rmse for e in epochs], BLUE, width=3, markers=True)
    else:
        rmse.parts.append(f'<text x="{LEFTS[1] + PANEL_W / 2}" y="{(TOP + BOTTOM) / 2}" text-anchor="middle" '
                          f'fill="{GREY}">validation RMSE appears when the first epoch ends</text>')
    out.extend(rmse.parts)
    legend = [("loss (smoothed)", ACCENT), ("train RMSE", GREY), ("validation RMSE", BLUE)]
    height = HEIGHT
    if lists:
        out.extend(_lists_row(ranker_steps, ranker_epochs, total_epochs))
        legend.append(("lists NDCG@10", GREEN))
        height += ROW
    out.append(_legend(legend, height))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height + 8}" width="100%" '
            f'font-family="sans-serif" font-size="12" fill="{INK}" role="img" '
            f'aria-label="Training loss, RMSE and the lists NDCG so far">{"".join(out)}</svg>')


def _lists_row(steps: Sequence, epochs: Sequence, total_epochs: int) -> list[str]:
    """The second row: the lists model's choice loss per step, and its NDCG@10 per epoch against most popular."""
    loss = _Panel(LEFTS[0], (0, total_epochs), (0, 1), row=1)
    if steps:
        keep = np.unique(np.linspace(0, len(steps) - 1, min(len(steps), MAX_POINTS)).astype(int))
        x = np.array([steps[i].epoch - 1 + steps[i].epoch_progress for i in keep])
        raw = np.array([s.loss for s in steps])
        y, trend = raw[keep], smooth(raw)[keep]
        loss = _Panel(LEFTS[0], (0, max(float(x[-1]), 1e-9)), (float(y.min()) * 0.98, float(y.max()) * 1.02), row=1)
        loss.line(x, y, GREY, width=1, opacity=0.5)
        loss.line(x, trend, ACCENT)
    loss.axes("Lists: choice loss per step", _ticks(loss.x0, loss.x1))
    judged = [e for e in epochs if np.isfinite(e.val_ndcg)]
    values = [e.val_ndcg for e in judged] + [e.floor_ndcg for e in judged[:1] if np.isfinite(e.floor_ndcg)]
    low, high = (min(values), max(values)) if values else (0.0, 0.3)
    pad = (high - low) * 0.1 or 0.02
    ndcg = _Panel(LEFTS[1], (1, max(2, len(epochs))), (max(0.0, low - pad), high + pad), row=1)
    ndcg.axes("Lists: NDCG@10 per epoch (validation users)",
              [e.epoch for e in epochs] if len(epochs) <= 20 else _ticks(1, len(epochs)))
    if judged and np.isfinite(judged[0].floor_ndcg):
        ndcg.level(judged[0].floor_ndcg, f"most popular {judged[0].floor_ndcg:.3f}", DARK)
    if judged:
        ndcg.line([e.epoch for e in judged], [e.val_ndcg for e in judged], GREEN, width=3, markers=True)
    else:
        ndcg.parts.append(f'<text x="{LEFTS[1] + PANEL_W / 2}" y="{(ndcg.top + ndcg.bottom) / 2}" '
                          f'text-anchor="middle" fill="{GREY}">NDCG@10 appears when the lists\u2019 first epoch ends</text>')
    return loss.parts + ndcg.parts
