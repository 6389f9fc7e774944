"""Plotly figures of training, data, runs, lists and errors: plain data and run records in, figures out.

No Streamlit and no torch: the dashboard shows these, and a report or a script can write them to HTML.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from cfcore.figures.style import ACCENT, BLUE, DARK, GREEN, GREY, LAYOUT, LIGHT, RUN_COLOURS, plot
from cfcore.rankers import registry
from cfcore.records import BucketRow, RankingRow


def smooth(values: Sequence[float], alpha: float = 0.3) -> np.ndarray:
    """Exponential moving average, so noisy per-step losses read as a trend."""
    out = np.empty(len(values))
    acc = None
    for i, v in enumerate(values):
        acc = v if acc is None else alpha * v + (1 - alpha) * acc
        out[i] = acc
    return out


def training_figure(steps: Sequence, epochs: Sequence, baselines: dict[str, float], steps_per_epoch: int,
                    ranker_steps: Sequence = (), ranker_epochs: Sequence = (), lists: bool = False) -> go.Figure:
    """Left: training loss per step (raw and smoothed). Right: train/validation RMSE per epoch and baselines.
    With ``lists`` (a ranking model trained beside the stars) a second row: its choice loss per step and its
    NDCG@10 per epoch on the validation sample, against most popular's on the same users.

    Built as one plain dict (two axis domains, shapes for the baselines) rather than with
    make_subplots/add_hline: it is redrawn every couple of seconds while training runs in the same
    process, and the helpers cost ~80 ms of Python each time; this costs a few.
    """
    data, shapes, notes = [], [], []
    if steps:
        x = [s.step / steps_per_epoch for s in steps]
        y = [s.train_loss for s in steps]
        data.append(dict(type="scatter", x=x, y=y, mode="lines", name="loss", line=dict(color=GREY, width=1),
                         opacity=0.5, showlegend=False, xaxis="x", yaxis="y"))
        data.append(dict(type="scatter", x=x, y=smooth(y).tolist(), mode="lines", name="loss (smoothed)",
                         line=dict(color=ACCENT, width=2), xaxis="x", yaxis="y"))
    if epochs:
        ex = [e.epoch for e in epochs]
        data.append(dict(type="scatter", x=ex, y=[e.train_rmse for e in epochs], mode="lines+markers",
                         name="train RMSE", line=dict(color=GREY), xaxis="x2", yaxis="y2"))
        data.append(dict(type="scatter", x=ex, y=[e.val_rmse for e in epochs], mode="lines+markers",
                         name="validation RMSE", line=dict(color=BLUE, width=3), xaxis="x2", yaxis="y2"))
    for key, label, dash in (("global_mean_rmse", "global mean", "dot"), ("bias_rmse", "bias only", "dash"),
                             ("noise_floor", "noise floor (best possible)", "dashdot")):
        if key in baselines:
            value = baselines[key]
            colour = GREEN if key == "noise_floor" else DARK
            shapes.append(dict(type="line", xref="x2 domain", yref="y2", x0=0, x1=1, y0=value, y1=value,
                               line=dict(color=colour, dash=dash, width=1)))
            notes.append(dict(text=f"{label} {value:.3f}", xref="x2 domain", yref="y2", x=1, y=value,
                              xanchor="right", yanchor="bottom", showarrow=False, font=dict(size=11, color=colour)))
    if not epochs:  # say why the right panel is empty
        notes.append(dict(text="validation RMSE appears when the first epoch ends", xref="x2 domain",
                          yref="y2 domain", x=0.5, y=0.5, showarrow=False, font=dict(color=GREY)))
    top = 0.56 if lists else 0.0  # the first row's bottom when a second row is drawn below it
    for x, title in ((0.23, "Training loss (MSE) per step"), (0.77, "RMSE per epoch")):
        notes.append(dict(text=title, xref="paper", yref="paper", x=x, y=1.0, yanchor="bottom", showarrow=False,
                          font=dict(size=14)))
    layout = dict(LAYOUT, height=700 if lists else 380, shapes=shapes, annotations=notes,
                  xaxis=dict(domain=[0, 0.46], title=dict(text="epoch"), anchor="y"),
                  yaxis=dict(anchor="x", domain=[top, 1]),
                  xaxis2=dict(domain=[0.54, 1], title=dict(text="epoch"), anchor="y2",
                              dtick=1 if len(epochs) <= 20 else None),
                  yaxis2=dict(anchor="x2", domain=[top, 1]))
    if lists:
        _lists_row(data, shapes, notes, layout, ranker_steps, ranker_epochs)
    return go.Figure(dict(data=data, layout=layout))


def _lists_row(data: list, shapes: list, notes: list, layout: dict, steps: Sequence, epochs: Sequence) -> None:
    """The training figure's second row (axes x3/y3 and x4/y4): the lists model's loss and NDCG@10."""
    if steps:
        x = [s.epoch - 1 + s.epoch_progress for s in steps]
        y = [s.loss for s in steps]
        data.append(dict(type="scatter", x=x, y=y, mode="lines", name="choice loss", line=dict(color=GREY, width=1),
                         opacity=0.5, showlegend=False, xaxis="x3", yaxis="y3"))
        data.append(dict(type="scatter", x=x, y=smooth(y).tolist(), mode="lines", name="choice loss (smoothed)",
                         line=dict(color=ACCENT, width=2, dash="dot"), xaxis="x3", yaxis="y3"))
    judged = [e for e in epochs if np.isfinite(e.val_ndcg)]
    if judged:
        data.append(dict(type="scatter", x=[e.epoch for e in judged], y=[e.val_ndcg for e in judged],
                         mode="lines+markers", name="lists NDCG@10", line=dict(color=GREEN, width=3),
                         xaxis="x4", yaxis="y4"))
        floor = judged[0].floor_ndcg
        if np.isfinite(floor):
            shapes.append(dict(type="line", xref="x4 domain", yref="y4", x0=0, x1=1, y0=floor, y1=floor,
                               line=dict(color=DARK, dash="dash", width=1)))
            notes.append(dict(text=f"most popular {floor:.3f}", xref="x4 domain", yref="y4", x=1, y=floor,
                              xanchor="right", yanchor="bottom", showarrow=False, font=dict(size=11, color=DARK)))
    for x, title in ((0.23, "Lists: choice loss per step"), (0.77, "Lists: NDCG@10 per epoch (validation users)")):
        notes.append(dict(text=title, xref="paper", yref="paper", x=x, y=0.44, yanchor="bottom", showarrow=False,
                          font=dict(size=14)))
    layout.update(xaxis3=dict(domain=[0, 0.46], title=dict(text="epoch"), anchor="y3"),
                  yaxis3=dict(anchor="x3", domain=[0, 0.44]),
                  xaxis4=dict(domain=[0.54, 1], title=dict(text="epoch"), anchor="y4",
                              dtick=1 if len(epochs) <= 20 else None),
                  yaxis4=dict(anchor="x4", domain=[0, 0.44]))


def rating_histogram(rating: np.ndarray) -> go.Figure:
    values, counts = np.unique(np.round(rating.astype(np.float64), 3), return_counts=True)
    if len(values) > 40:  # continuous ratings: bin them
        fig = px.histogram(x=rating, nbins=40)
    else:
        fig = px.bar(x=values, y=counts)
    fig.update_traces(marker_color=ACCENT)
    fig.update_layout(title="Ratings", xaxis_title="rating", yaxis_title="count", height=320, **LAYOUT)
    return fig


def long_tail(counts: np.ndarray, what: str) -> go.Figure:
    """Ratings per user/item sorted from most to least, on log axes: the long tail."""
    ordered = np.sort(counts[counts > 0])[::-1]
    fig = go.Figure(go.Scatter(x=np.arange(1, len(ordered) + 1), y=ordered, mode="lines", line=dict(color=BLUE, width=2),
                               hovertemplate=f"{what} rank %{{x}}<br>%{{y}} ratings<extra></extra>"))
    fig.update_layout(title=f"Ratings per {what} (long tail)", xaxis_title=f"{what}s, most active first",
                      yaxis_title="ratings", xaxis_type="log", yaxis_type="log", height=320, **LAYOUT)
    # powers of ten only (minor ticks read "2, 5, 2, 5"), and headroom so the top label is not cut
    fig.update_xaxes(dtick=1, tickformat=",d")
    fig.update_yaxes(dtick=1, tickformat=",d", range=[0, np.log10(max(ordered.max(), 1)) + 0.15] if len(ordered) else None)
    return fig


def ratings_over_time(timestamp: np.ndarray) -> go.Figure:
    valid = timestamp[timestamp > np.iinfo(np.int64).min]
    months = pd.to_datetime(valid, unit="s").to_period("M").value_counts().sort_index()
    fig = px.bar(x=months.index.to_timestamp(), y=months.to_numpy())
    fig.update_traces(marker_color=BLUE)
    fig.update_layout(title="Ratings per month", xaxis_title="", yaxis_title="ratings", height=320, **LAYOUT)
    return fig


# Runs page: metrics of several runs, their settings, and a sweep's grid
STEP_LOSS = "training loss per step"
EPOCH_METRICS = {  # option -> (EpochRecord field, axis title, Baselines field suffix or None)
    "validation RMSE per epoch": ("val_rmse", "validation RMSE", "rmse"),
    "train RMSE per epoch": ("train_rmse", "train RMSE", None),
    "validation MAE per epoch": ("val_mae", "validation MAE", "mae"),
}
LISTS_METRICS = {  # option -> (RankerEpochRecord field, axis title): the tuned model's, per epoch
    "lists NDCG@10 per epoch": ("val_ndcg", "NDCG@10 of the lists (validation users)"),
    "lists choice loss per epoch": ("loss", "choice loss of the lists model"),
}
RANKING = "ranking metrics (top-k lists)"
RANKING_METRICS = {"ndcg": "NDCG", "precision": "precision", "recall": "recall", "coverage": "coverage"}
BASELINES = {"global_mean": "global mean", "bias": "bias only"}
LOG_SETTINGS = ("learning rate", "weight decay")  # drawn on log axes whenever they are positive
MIN_SPREAD = 0.01  # a sweep's colour range spans at least this much RMSE: smaller differences look alike
MAX_SPREAD = 0.1  # ... and at most this much: runs worse than best + 0.1 all look bad, their values are written


def run_colour(i: int) -> str:
    return RUN_COLOURS[i % len(RUN_COLOURS)]


def has_metric(run, metric: str) -> bool:
    """Whether ``run`` (a ``runs.RunInfo``) recorded what the metric option ``metric`` draws."""
    record = run.record
    if metric == STEP_LOSS:
        return len(record.step_loss.step) > 0 and len(record.step_loss.train_loss) > 0
    if metric in EPOCH_METRICS:
        return any(getattr(e, EPOCH_METRICS[metric][0]) is not None for e in record.epochs)
    if metric in LISTS_METRICS:
        return len(record.ranker_epochs) > 0
    if metric == RANKING:
        return record.ranking is not None
    raise KeyError(f"unknown run metric {metric!r}")


def run_metric_names(runs: Sequence) -> list[str]:
    """The metric options at least one of ``runs`` recorded, the validation RMSE first."""
    return [m for m in (*EPOCH_METRICS, *LISTS_METRICS, STEP_LOSS, RANKING) if any(has_metric(r, m) for r in runs)]


def run_metric_figure(runs: Sequence, metric: str, *, x: str = "step", log_y: bool = False,
                      smoothing: float = 0.0, spreads: dict | None = None) -> go.Figure:
    """One recorded metric of several runs: per-step loss, a per-epoch curve, or ranking bars.

    ``x`` is "step" (steps or epochs) or "seconds" (wall clock since training started); ``smoothing`` in
    [0, 1) is the weight of the past in an exponential moving average of the per-step loss (0 = raw);
    ``spreads``: see ``ranking_bars``."""
    if metric == RANKING:
        return ranking_bars(runs, spreads)
    fig = go.Figure()
    if metric == STEP_LOSS:
        _step_loss_traces(fig, runs, x, smoothing)
        title, y_title = "Training loss (MSE) per step", "training loss (MSE)"
        x_title = "step" if x == "step" else "seconds since training started"
    elif metric in LISTS_METRICS:
        key, y_title = LISTS_METRICS[metric]
        _epoch_traces(fig, runs, key, x, lists=True)
        title = f"{y_title[0].upper()}{y_title[1:]} per epoch"
        x_title = "epoch" if x == "step" else "seconds of training (epochs summed)"
    else:
        key, y_title, baseline = EPOCH_METRICS[metric]
        _epoch_traces(fig, runs, key, x)
        if baseline:
            _baseline_lines(fig, runs, baseline)
        title = f"{y_title[0].upper()}{y_title[1:]} per epoch"
        x_title = "epoch" if x == "step" else "seconds of training (epochs summed)"
        if x == "step" and max((len(r.record.epochs) for r in runs), default=0) <= 20:
            fig.update_xaxes(dtick=1)
    # a legend even for one run, so a shared screenshot still says which run it shows
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title, height=420, hovermode="closest",
                      showlegend=True, **LAYOUT)
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def _step_loss_traces(fig: go.Figure, runs: Sequence, x: str, smoothing: float) -> None:
    for i in _longest_first(runs, lambda r: len(r.record.step_loss.step)):
        run = runs[i]
        if not has_metric(run, STEP_LOSS):
            continue
        log = run.record.step_loss
        xs, ys = list(log.seconds if x == "seconds" else log.step), list(log.train_loss)
        n = min(len(xs), len(ys))
        xs, ys = xs[:n], ys[:n]
        name, colour = plot(run.title), run_colour(i)
        if smoothing > 0:  # the raw losses stay visible, faint, behind the trend
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=colour, width=1), opacity=0.25,
                                     name=name, legendgroup=run.run_id, showlegend=False, hoverinfo="skip"))
            ys = smooth(ys, 1.0 - smoothing).tolist()
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers" if n <= 30 else "lines", name=name,
                                 legendgroup=run.run_id, legendrank=i + 1, line=dict(color=colour, width=2),
                                 marker=dict(size=6)))


def _longest_first(runs: Sequence, length) -> list[int]:
    """Run positions in drawing order: the longest first, so a short run is drawn on top of a long one
    (a stopped run's one epoch often lies exactly on another run's first point)."""
    return sorted(range(len(runs)), key=lambda i: -length(runs[i]))


def _epoch_traces(fig: go.Figure, runs: Sequence, key: str, x: str, lists: bool = False) -> None:
    """One line per run of an epoch record's field: the stars' epochs, or (``lists``) the tuned model's."""
    def of(run):
        return run.record.ranker_epochs if lists else run.record.epochs

    for i in _longest_first(runs, lambda r: len(of(r))):
        run = runs[i]
        epochs = of(run)
        elapsed = np.cumsum([float(e.seconds or 0.0) for e in epochs])
        points = [(elapsed[j] if x == "seconds" else e.epoch, getattr(e, key)) for j, e in enumerate(epochs)
                  if getattr(e, key) is not None]
        if not points:
            continue
        # markers on every point (larger for a run of a few epochs), so a one-epoch run is a visible dot
        fig.add_trace(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers",
                                 name=plot(run.title), line=dict(color=run_colour(i), width=2), legendrank=i + 1,
                                 marker=dict(size=12 if len(points) <= 3 else 8, color=run_colour(i))))


def baseline_values(runs: Sequence, suffix: str) -> list[tuple[str, float]]:
    """(label, value) of each distinct baseline ("rmse" or "mae") the runs recorded, the dataset named when
    the runs come from more than one."""
    several = len({r.record.dataset.name for r in runs}) > 1
    out: dict[tuple[str, float], str] = {}
    for run in runs:
        for kind, label in BASELINES.items():
            value = getattr(run.record.baselines, f"{kind}_{suffix}")
            if isinstance(value, (int, float)) and np.isfinite(value):
                text = f"{label} {value:.3f}" + (f" ({run.record.dataset.name})" if several else "")
                out.setdefault((label, round(float(value), 4)), text)
    return [(text, value) for (_, value), text in out.items()]


def _baseline_lines(fig: go.Figure, runs: Sequence, suffix: str) -> None:
    for text, value in baseline_values(runs, suffix):
        fig.add_hline(y=value, line=dict(color=DARK, dash="dash", width=1), annotation_text=plot(text),
                      # at the right: curves start high (near the baselines) and end below them
                      annotation_position="top right", annotation_font=dict(size=11, color=DARK))


def ranking_bars(runs: Sequence, spreads: dict | None = None) -> go.Figure:
    """NDCG, precision, recall and coverage of each run's lists as grouped bars; a dark tick on each bar
    marks most popular on that run's split, the floor to beat.

    ``spreads``: run id -> metric -> ``repeats.Spread`` for a run that stands for its repeats on other
    split seeds; its bar is then the mean, with the sample std as an error bar."""
    spreads = spreads or {}
    fig, shown_floor = go.Figure(), False
    labels = list(RANKING_METRICS.values())
    k = runs[0].record.evaluation.k if runs else 10
    with_text = len(runs) <= 4
    for i, run in enumerate(runs):
        own = run.record.ranking
        if own is None:
            continue
        spread = spreads.get(run.run_id)
        values = [_finite(spread[m].mean if spread else getattr(own, m)) for m in RANKING_METRICS]
        errors = dict(type="data", array=[_finite(spread[m].std) or 0.0 for m in RANKING_METRICS], color=DARK,
                      thickness=1.5, width=6) if spread else None
        n = max((s.n for s in spread.values()), default=0) if spread else 0
        name = plot(run.title) + (f" · mean ± std of {n} split seeds" if spread else "")
        text = [(f"{v:.3f} ± {spread[m].std:.3f}" if spread else f"{v:.3f}") if v is not None else ""
                for m, v in zip(RANKING_METRICS, values)] if with_text else None
        fig.add_trace(go.Bar(x=labels, y=values, name=name, marker_color=run_colour(i), error_y=errors,
                             offsetgroup=str(i), text=text, textposition="outside", cliponaxis=False))
        floor = run.record.floor
        if floor is not None and floor is not own:
            fig.add_trace(go.Scatter(x=labels, y=[_finite(getattr(floor, m)) for m in RANKING_METRICS], mode="markers",
                                     offsetgroup=str(i), name="most popular (same split)", legendgroup="floor",
                                     showlegend=not shown_floor, marker=dict(symbol="line-ew", size=22, color=DARK,
                                                                             line=dict(width=3, color=DARK))))
            shown_floor = True
    fig.update_layout(title=f"Ranking metrics of the top-{k} lists (higher is better)", barmode="group",
                      scattermode="group", height=420, yaxis_title="on the validation split", showlegend=True,
                      **LAYOUT)
    return fig


def _finite(value: float | None) -> float | None:
    """A number to draw, or None for a metric that was undefined (nan) on that run."""
    return value if value is not None and np.isfinite(value) else None


def varying_settings(frame: pd.DataFrame, dims: Sequence[str]) -> list[str]:
    """The columns of ``dims`` that every row fills and that take more than one value."""
    return [d for d in dims if d in frame and frame[d].notna().all() and frame[d].nunique() > 1]


def is_log_setting(name: str, values: pd.Series) -> bool:
    """Log axis for learning rate and weight decay, and for any positive setting spanning 10x or more."""
    if not pd.api.types.is_numeric_dtype(values) or not (values > 0).all():
        return False
    return name in LOG_SETTINGS or values.max() / values.min() >= 10


def log_ticks(values: Sequence[float]) -> tuple[list[float], list[str]]:
    """Tick positions (log10) and texts in real units for a log axis: the values themselves when there are
    a few, else 1-2-5 steps of each decade within their range."""
    distinct = sorted({float(v) for v in values})
    ticks = distinct if len(distinct) <= 6 else decade_ticks(distinct[0], distinct[-1])
    return [float(np.log10(t)) for t in ticks], [f"{t:g}" for t in ticks]


def decade_ticks(low: float, high: float) -> list[float]:
    """1-2-5 steps of each decade between ``low`` and ``high`` (both > 0), for a log axis or colour bar
    labelled in real units; [low, high] when fewer than two fall inside."""
    ticks = [m * 10.0**e for e in range(int(np.floor(np.log10(low))), int(np.ceil(np.log10(high))) + 1)
             for m in (1, 2, 5) if low * (1 - 1e-9) <= m * 10.0**e <= high * (1 + 1e-9)]
    return ticks if len(ticks) >= 2 else [low, high]


def _axis(name: str, values: pd.Series) -> dict:
    """One parallel-coordinates axis: log10 with real-unit ticks, categories as codes, or plain numbers."""
    if is_log_setting(name, values):
        tickvals, ticktext = log_ticks(values)
        logs = np.log10(values.astype(float))
        return dict(label=f"{name} (log)", values=logs, tickvals=tickvals, ticktext=ticktext,
                    range=[min(logs.min(), tickvals[0]), max(logs.max(), tickvals[-1])])
    if not pd.api.types.is_numeric_dtype(values):
        categories = sorted(values.astype(str).unique())
        codes = values.astype(str).map({c: j for j, c in enumerate(categories)})
        return dict(label=name, values=codes, tickvals=list(range(len(categories))),
                    ticktext=[plot(c) for c in categories])
    distinct = sorted(values.unique())
    if len(distinct) <= 6:
        return dict(label=name, values=values, tickvals=[float(v) for v in distinct],
                    ticktext=[f"{v:g}" for v in distinct])
    return dict(label=name, values=values)


def parallel_coordinates(frame: pd.DataFrame, dims: Sequence[str], color: str = "val RMSE",
                         title: str = "") -> go.Figure:
    """One line per run across the settings that vary among them, coloured by ``color`` over these runs."""
    data = frame.dropna(subset=[color]).reset_index(drop=True)
    axes = [_axis(d, data[d]) for d in varying_settings(data, dims)]
    outcome = data[color].astype(float)
    axes.append(dict(label=f"{color} (lower is better)", values=outcome, range=[outcome.min(), outcome.max()]))
    fig = go.Figure(go.Parcoords(
        # the best run in the accent colour, the worst in blue: both stay visible on white (yellow did not)
        line=dict(color=outcome, colorscale=[[0, ACCENT], [1, BLUE]], cmin=outcome.min(), cmax=outcome.max(),
                  showscale=True, colorbar=dict(title=color)),
        dimensions=axes, labelangle=0, labelside="top"))
    fig.update_layout(title=dict(text=plot(title) or "Settings against validation RMSE", y=0.98, font=dict(size=14)),
                      height=420, **{**LAYOUT, "margin": dict(l=60, r=60, t=100, b=30)})
    return fig


def sweep_colour_range(values: Sequence[float]) -> tuple[float, float]:
    """(best, best + spread): the spread is the runs' own, at least MIN_SPREAD and at most MAX_SPREAD, so
    0.9161 against 0.9172 looks alike and one diverged run does not wash out the rest."""
    finite = [float(v) for v in values if v is not None and np.isfinite(v)]
    best = min(finite)
    return best, best + float(np.clip(max(finite) - best, MIN_SPREAD, MAX_SPREAD))


def _setting_text(value) -> str:
    return f"{value:g}" if isinstance(value, (int, float, np.number)) else plot(value)


def sweep_figure(frame: pd.DataFrame, varied: list[str], value: str = "val RMSE",
                 higher_is_better: bool = False) -> go.Figure | None:
    """A sweep's finished runs by ``value`` (validation RMSE, lower is better, or NDCG@10 of the lists, higher is
    better): a heatmap over the first two varied settings (the best over the others), else one point per run;
    each value written with its distance to the best, the best marked. None before two runs have finished (one
    point says nothing about a grid)."""
    done = frame.dropna(subset=[value]).reset_index(drop=True)
    if len(done) < 2:
        return None
    sign = -1.0 if higher_is_better else 1.0
    low, high = sweep_colour_range(sign * done[value])  # in "lower is better" terms
    best = sign * low
    zmin, zmax = sorted((sign * low, sign * high))
    scale = "Blues" if higher_is_better else "Blues_r"  # the best run darkest, those within MIN_SPREAD nearly as dark
    name = "validation RMSE" if value == "val RMSE" else value

    def cell(v: float) -> str:
        return "" if not np.isfinite(v) else f"{v:.4f}<br>" + ("best" if v == best else f"{v - best:+.4f}")

    if len(varied) >= 2:
        rows, cols = varied[0], varied[1]
        table = done.pivot_table(index=rows, columns=cols, values=value, aggfunc="max" if higher_is_better else "min")
        z = table.to_numpy(dtype=float)
        fig = go.Figure(go.Heatmap(
            z=z, x=[_setting_text(c) for c in table.columns], y=[_setting_text(r) for r in table.index],
            text=[[cell(v) for v in row] for row in z], texttemplate="%{text}", zmin=zmin, zmax=zmax,
            colorscale=scale, colorbar=dict(title=plot(value)), xgap=2, ygap=2,
            hovertemplate=f"{plot(rows)} %{{y}}, {plot(cols)} %{{x}}: {plot(value)} %{{z:.4f}}<extra></extra>"))
        r, c = np.unravel_index(np.nanargmax(z) if higher_is_better else np.nanargmin(z), z.shape)
        fig.add_shape(type="rect", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5, line=dict(color=ACCENT, width=3))
        others = f" (best over {', '.join(varied[2:])})" if len(varied) > 2 else ""
        fig.update_layout(title=f"Sweep: {plot(name)} by {rows} and {cols}{others}; colours span "
                                f"{zmin:.4f} to {zmax:.4f}", xaxis_title=cols, yaxis_title=rows)
        fig.update_xaxes(type="category")
        fig.update_yaxes(type="category", autorange="reversed")
    else:
        if varied:
            x_name = varied[0]
            order = sorted(done[x_name].unique())
            xs = [_setting_text(v) for v in done[x_name]]
        else:
            x_name, order = "run", list(range(1, len(done) + 1))
            xs = [str(v) for v in order]
        values = done[value].to_numpy(dtype=float)
        fig = go.Figure(go.Scatter(
            x=xs, y=values, mode="markers+text", text=[cell(v).replace("<br>", " ") for v in values],
            textposition="top center", marker=dict(size=16, color=values, colorscale=scale, cmin=zmin, cmax=zmax,
                                                   showscale=True, colorbar=dict(title=plot(value)),
                                                   line=dict(color=DARK, width=1)),
            showlegend=False, hovertemplate=f"{plot(x_name)} %{{x}}: {plot(value)} %{{y:.4f}}<extra></extra>"))
        i = int(np.argmax(values) if higher_is_better else np.argmin(values))
        fig.add_trace(go.Scatter(x=[xs[i]], y=[values[i]], mode="markers", name="best",
                                 marker=dict(size=26, color="rgba(0,0,0,0)", line=dict(color=ACCENT, width=3))))
        pad = max(values.max() - values.min(), MIN_SPREAD) * 0.3
        fig.update_xaxes(type="category", categoryorder="array", categoryarray=[_setting_text(v) for v in order],
                         title=x_name)
        fig.update_yaxes(range=[values.min() - pad, values.max() + pad], title=plot(name))
        fig.update_layout(title=f"Sweep: {plot(name)} per run")
    fig.update_layout(height=400, **LAYOUT)
    return fig


def explanation_waterfall(parts: dict[str, float], title: str) -> go.Figure:
    """Global mean + user bias + movie bias + taste match (+ range limit) = prediction."""
    names = [k for k in parts if k != "prediction" and (k != "range limit" or abs(parts[k]) > 1e-6)]
    labels = {"item bias": "movie bias"}
    fig = go.Figure(go.Waterfall(
        x=[labels.get(n, n) for n in names] + ["prediction"],
        y=[parts[n] for n in names] + [parts["prediction"]],
        measure=["absolute"] + ["relative"] * (len(names) - 1) + ["total"],
        text=[f"{parts[n]:+.2f}" if i else f"{parts[n]:.2f}" for i, n in enumerate(names)] + [f"{parts['prediction']:.2f}"],
        textposition="outside", connector=dict(line=dict(color=LIGHT)),
        increasing=dict(marker=dict(color=GREEN)), decreasing=dict(marker=dict(color=ACCENT)),
        totals=dict(marker=dict(color=BLUE)),
    ))
    low = min(0.0, min(np.cumsum([parts[n] for n in names])))
    fig.update_layout(title=plot(title), height=330, yaxis_title="rating", showlegend=False, **LAYOUT)
    fig.update_yaxes(range=[low, max(parts["prediction"], parts[names[0]]) * 1.25])
    return fig


def ranking_ladder(ladder: dict[str, RankingRow], k: int = 10, spread: dict | None = None) -> go.Figure:
    """P@k and NDCG@k of each ranking (kind -> its row) on the same split, weakest first: popularity is the floor.

    ``spread``: kind -> metric -> ``repeats.Spread`` over repeats on other split seeds; the bars are then the
    means, with the sample std as error bars."""
    def value(kind: str, metric: str) -> float:
        if spread and kind in spread:
            return _finite(spread[kind][metric].mean) or 0.0
        return _finite(getattr(ladder[kind], metric)) or 0.0

    def error(kind: str, metric: str) -> float:
        return (_finite(spread[kind][metric].std) or 0.0) if spread and kind in spread else 0.0

    order = sorted(ladder, key=lambda kind: value(kind, "ndcg"))
    names = [plot(registry.label(kind)) for kind in order]
    fig = go.Figure()
    for metric, title, colour in (("precision", f"precision@{k}", BLUE), ("ndcg", f"NDCG@{k}", ACCENT)):
        values = [value(kind, metric) for kind in order]
        errors = [error(kind, metric) for kind in order]
        if not spread:
            fig.add_trace(go.Bar(y=names, x=values, orientation="h", name=title, marker_color=colour,
                                 text=[f"{v:.3f}" for v in values], textposition="outside", cliponaxis=False))
            continue
        # with error bars, each bar sits at a known height (precision below the row's centre, NDCG above), so
        # its value can be written after the whisker's end: a bar's own outside text would sit on the whisker
        centre = -0.2 if metric == "precision" else 0.2
        rows = list(range(len(order)))
        fig.add_trace(go.Bar(y=rows, x=values, orientation="h", name=title, marker_color=colour, width=0.38,
                             offset=centre - 0.19, error_x=dict(type="data", array=errors, color=DARK,
                                                                thickness=1.5, width=4)))
        fig.add_trace(go.Scatter(y=[row + centre for row in rows], x=[v + e for v, e in zip(values, errors)],
                                 mode="text", text=[f"  {v:.3f} ± {e:.3f}" for v, e in zip(values, errors)],
                                 textposition="middle right", textfont=dict(color=DARK, size=11),
                                 showlegend=False, hoverinfo="skip", cliponaxis=False))
    top = max([value(kind, metric) + error(kind, metric) for kind in order for metric in ("precision", "ndcg")]
              + [0.01])
    n = max((s.n for row in (spread or {}).values() for s in row.values()), default=0)
    title = f"Ranking ladder of the group: top-{k} lists, mean ± std over {n} split seeds" if spread else \
        f"Ranking ladder: top-{k} lists on the validation split"
    fig.update_layout(title=title, barmode="overlay" if spread else "group",
                      height=120 + 60 * len(order), xaxis_title="higher is better", **LAYOUT)
    fig.update_xaxes(range=[0, top * (1.45 if spread else 1.18)])  # room for the value (± std) after each bar
    fig.update_layout(legend=dict(orientation="h", y=-0.35))
    if spread:
        fig.update_yaxes(tickvals=list(range(len(order))), ticktext=names, range=[-0.6, len(order) - 0.4])
    return fig


def error_buckets(rows: Sequence[BucketRow], k: int = 10) -> go.Figure:
    """Held-out RMSE by user activity (left, with NDCG@k written on each bar) and by movie popularity (right)."""
    data, notes = [], []
    for side, axis, x0 in (("users", "", 0.23), ("movies", "2", 0.77)):
        mine = [r for r in rows if r.side == side]
        text = [f"{r.rmse:.3f}" + (f"<br>NDCG@{k} {r.ndcg:.3f}" if r.ndcg is not None else "") for r in mine]
        data.append(dict(type="bar", x=[r.bucket for r in mine], y=[r.rmse for r in mine], text=text,
                         textposition="outside", cliponaxis=False, marker_color=ACCENT if side == "users" else BLUE,
                         customdata=[[r.ratings] for r in mine], showlegend=False, xaxis=f"x{axis}",
                         yaxis=f"y{axis}", hovertemplate="%{x}: RMSE %{y:.4f} over %{customdata[0]:,} ratings"
                                                         "<extra></extra>"))
        title = "By user activity" if side == "users" else "By movie popularity"
        notes.append(dict(text=title, xref="paper", yref="paper", x=x0, y=1.0, yanchor="bottom", showarrow=False,
                          font=dict(size=14)))
    top = max([r.rmse for r in rows] + [0.1]) * 1.3  # room for the text above each bar
    layout = dict(LAYOUT, height=340, annotations=notes, bargap=0.35,
                  xaxis=dict(domain=[0, 0.46], title=dict(text="the user's ratings in training"), anchor="y",
                             type="category"),
                  yaxis=dict(anchor="x", range=[0, top], title=dict(text="held-out RMSE (lower is better)")),
                  xaxis2=dict(domain=[0.54, 1], title=dict(text="the movie's ratings in training"), anchor="y2",
                              type="category"),
                  yaxis2=dict(anchor="x2", range=[0, top]))
    return go.Figure(dict(data=data, layout=layout))
