"""Plotly figure builders: plain data in, figures out (no Streamlit calls, no torch)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from ui.text import plot

# The palette, spelled once (ACCENT is the theme's primaryColor in .streamlit/config.toml)
ACCENT = "#E4572E"  # this model, the chosen movie, a recommendation
BLUE = "#2E86AB"  # validation, second series
GREY = "#8A94A6"  # raw or secondary series
GREEN = "#3BA55D"  # good: the noise floor, a rated movie, a positive contribution
DARK = "#555555"  # reference lines (baselines)
LIGHT = "#CCCCCC"  # connectors
HIGHLIGHT = "#FFB000"  # neighbours of the chosen movie
FAINT = "#C9D1DC"  # the background cloud of a map
GRID = "#EEEEEE"  # grid lines of the live training chart
INK = "#31333F"  # text of the live training chart (the theme's text colour)
LAYOUT = dict(template="plotly_white", margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.2))


def smooth(values: Sequence[float], alpha: float = 0.3) -> np.ndarray:
    """Exponential moving average, so noisy per-step losses read as a trend."""
    out = np.empty(len(values))
    acc = None
    for i, v in enumerate(values):
        acc = v if acc is None else alpha * v + (1 - alpha) * acc
        out[i] = acc
    return out


def training_figure(steps: Sequence, epochs: Sequence, baselines: dict[str, float], steps_per_epoch: int) -> go.Figure:
    """Left: training loss per step (raw and smoothed). Right: train/validation RMSE per epoch and baselines.

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
    for x, title in ((0.23, "Training loss (MSE) per step"), (0.77, "RMSE per epoch")):
        notes.append(dict(text=title, xref="paper", yref="paper", x=x, y=1.0, yanchor="bottom", showarrow=False,
                          font=dict(size=14)))
    layout = dict(LAYOUT, height=380, shapes=shapes, annotations=notes,
                  xaxis=dict(domain=[0, 0.46], title=dict(text="epoch"), anchor="y"),
                  yaxis=dict(anchor="x"),
                  xaxis2=dict(domain=[0.54, 1], title=dict(text="epoch"), anchor="y2",
                              dtick=1 if len(epochs) <= 20 else None),
                  yaxis2=dict(anchor="x2"))
    return go.Figure(dict(data=data, layout=layout))


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


def runs_overlay(runs: Sequence) -> go.Figure:
    """Validation RMSE per epoch of several runs in one chart."""
    fig = go.Figure()
    for run in runs:
        history = run.history
        fig.add_trace(go.Scatter(x=[h["epoch"] for h in history], y=[h["val_rmse"] for h in history],
                                 mode="lines+markers", name=plot(run.label)))
    fig.update_layout(title="Validation RMSE per epoch", xaxis_title="epoch", yaxis_title="validation RMSE",
                      height=380, **LAYOUT)
    return fig


def parallel_coordinates(frame: pd.DataFrame, dims: list[str], color: str = "val RMSE") -> go.Figure:
    data = frame.dropna(subset=[color])
    fig = go.Figure(go.Parcoords(
        line=dict(color=data[color], colorscale="Viridis_r", showscale=True, colorbar=dict(title=color)),
        dimensions=[dict(label=d, values=np.log10(data[d]) if d in ("learning rate", "weight decay") and (data[d] > 0).all()
                         else data[d]) for d in dims + [color]],
    ))
    fig.update_layout(title=dict(text="Hyperparameters against validation RMSE (learning rate and weight decay "
                                      "as log10)", y=0.98, font=dict(size=14)),
                      height=420, **{**LAYOUT, "margin": dict(l=40, r=40, t=110, b=20)})
    return fig


def sweep_figure(frame: pd.DataFrame, varied: list[str]) -> go.Figure:
    """A heatmap when two settings vary, otherwise a scatter; the best run is marked."""
    done = frame.dropna(subset=["val RMSE"])
    if len(varied) == 2 and len(done):
        table = done.pivot_table(index=varied[0], columns=varied[1], values="val RMSE", aggfunc="min")
        fig = px.imshow(table, text_auto=".4f", color_continuous_scale="Viridis_r", aspect="auto",
                        labels=dict(color="val RMSE"))
        fig.update_xaxes(type="category")
        fig.update_yaxes(type="category")
    else:
        x = varied[0] if varied else "run"
        fig = px.scatter(done.assign(run=np.arange(len(done))), x=x, y="val RMSE",
                         hover_data=[c for c in done.columns if c not in (x, "val RMSE")])
        fig.update_traces(marker=dict(size=12, color=BLUE))
        if len(done):
            best = done.loc[done["val RMSE"].idxmin()]
            fig.add_trace(go.Scatter(x=[best[x] if x in best else 0], y=[best["val RMSE"]], mode="markers",
                                     marker=dict(size=20, color=ACCENT, symbol="star"), name="best"))
    fig.update_layout(title="Sweep: validation RMSE", height=380, **LAYOUT)
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


def ranking_ladder(ladder: dict[str, dict[str, float]], labels: dict[str, str], k: int = 10) -> go.Figure:
    """P@k and NDCG@k of each ranking on the same split, weakest first: popularity is the floor to beat."""
    order = sorted(ladder, key=lambda kind: ladder[kind].get("ndcg") or 0.0)
    names = [plot(labels.get(kind, kind)) for kind in order]
    fig = go.Figure()
    for metric, title, colour in (("precision", f"precision@{k}", BLUE), ("ndcg", f"NDCG@{k}", ACCENT)):
        values = [ladder[kind].get(metric) or 0.0 for kind in order]
        fig.add_trace(go.Bar(y=names, x=values, orientation="h", name=title, marker_color=colour,
                             text=[f"{v:.3f}" for v in values], textposition="outside", cliponaxis=False))
    top = max([ladder[kind].get(metric) or 0.0 for kind in order for metric in ("precision", "ndcg")] + [0.01])
    fig.update_layout(title=f"Ranking ladder: top-{k} lists on the validation split", barmode="group",
                      height=120 + 60 * len(order), xaxis_title="higher is better", **LAYOUT)
    fig.update_xaxes(range=[0, top * 1.18])  # room for the value written after each bar
    fig.update_layout(legend=dict(orientation="h", y=-0.35))
    return fig


def error_buckets(rows: Sequence[dict], k: int = 10) -> go.Figure:
    """Held-out RMSE by user activity (left, with NDCG@k written on each bar) and by movie popularity (right)."""
    data, notes = [], []
    for side, axis, x0 in (("users", "", 0.23), ("movies", "2", 0.77)):
        mine = [r for r in rows if r["side"] == side]
        text = [f"{r['rmse']:.3f}" + (f"<br>NDCG@{k} {r['ndcg']:.3f}" if r.get("ndcg") is not None else "")
                for r in mine]
        data.append(dict(type="bar", x=[r["bucket"] for r in mine], y=[r["rmse"] for r in mine], text=text,
                         textposition="outside", cliponaxis=False, marker_color=ACCENT if side == "users" else BLUE,
                         customdata=[[r["ratings"]] for r in mine], showlegend=False, xaxis=f"x{axis}",
                         yaxis=f"y{axis}", hovertemplate="%{x}: RMSE %{y:.4f} over %{customdata[0]:,} ratings"
                                                         "<extra></extra>"))
        title = "By user activity" if side == "users" else "By movie popularity"
        notes.append(dict(text=title, xref="paper", yref="paper", x=x0, y=1.0, yanchor="bottom", showarrow=False,
                          font=dict(size=14)))
    top = max([r["rmse"] for r in rows] + [0.1]) * 1.3  # room for the text above each bar
    layout = dict(LAYOUT, height=340, annotations=notes, bargap=0.35,
                  xaxis=dict(domain=[0, 0.46], title=dict(text="the user's ratings in training"), anchor="y",
                             type="category"),
                  yaxis=dict(anchor="x", range=[0, top], title=dict(text="held-out RMSE (lower is better)")),
                  xaxis2=dict(domain=[0.54, 1], title=dict(text="the movie's ratings in training"), anchor="y2",
                              type="category"),
                  yaxis2=dict(anchor="x2", range=[0, top]))
    return go.Figure(dict(data=data, layout=layout))
