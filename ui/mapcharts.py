"""Plotly maps of learned vectors: the movie (or user) map, its variance bars, a new user on the map."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from ui.charts import ACCENT, BLUE, DARK, FAINT, LAYOUT
from ui.text import plot

HOVER_ITEM = ("<b>%{customdata[0]}</b> (%{customdata[1]})<br>%{customdata[2]}<br>%{customdata[3]} ratings · "
              "bias %{customdata[4]:+.2f}<extra></extra>")


def item_customdata(frame: pd.DataFrame) -> np.ndarray:
    year = frame["year"].map(lambda y: "?" if pd.isna(y) else f"{y:.0f}")
    return np.column_stack([frame["title"].map(plot), year, frame["genres"].astype(str).str.replace("|", ", ").map(plot),
                            frame["n_ratings"], frame["bias"]])


def embedding_map(frame: pd.DataFrame, color: str, dims: int, explained: Sequence[float],
                  highlight: pd.DataFrame | None = None, hover: str = "item", title: str = "") -> go.Figure:
    """A 2D or 3D scatter of projected rows coloured by ``color``; ``highlight`` rows drawn on top, labelled."""
    axes = [f"pc{i + 1}" for i in range(dims)]
    custom = item_customdata(frame) if hover == "item" else np.column_stack(
        [frame["user_id"].map(plot), frame["n_ratings"], frame["bias"]])
    template = HOVER_ITEM if hover == "item" else \
        "<b>user %{customdata[0]}</b><br>%{customdata[1]} ratings · bias %{customdata[2]:+.2f}<extra></extra>"
    numeric = pd.api.types.is_numeric_dtype(frame[color])
    fig = go.Figure()
    scatter = go.Scatter3d if dims == 3 else go.Scattergl
    size = 3 if dims == 3 else 6
    if numeric:
        coords = {a: frame[c] for a, c in zip("xyz", axes)}
        fig.add_trace(scatter(**coords, mode="markers", customdata=custom, hovertemplate=template, name=color,
                              marker=dict(size=size, color=frame[color], colorscale="Viridis", showscale=True,
                                          colorbar=dict(title=color), opacity=0.8)))
    else:
        palette = px.colors.qualitative.D3 + px.colors.qualitative.Set2 + px.colors.qualitative.Pastel
        for i, (value, part) in enumerate(frame.groupby(color, sort=True)):
            coords = {a: part[c] for a, c in zip("xyz", axes)}
            fig.add_trace(scatter(**coords, mode="markers", customdata=custom[frame.index.get_indexer(part.index)],
                                  hovertemplate=template, name=plot(value),
                                  marker=dict(size=size, color=palette[i % len(palette)], opacity=0.75)))
    if highlight is not None and len(highlight):
        coords = {a: highlight[c] for a, c in zip("xyz", axes)}
        fig.add_trace(scatter(**coords, mode="markers+text", text=highlight["label"].map(plot), textposition="top center",
                              customdata=item_customdata(highlight) if hover == "item" else None,
                              hovertemplate=HOVER_ITEM if hover == "item" else None, name="highlighted",
                              marker=dict(size=size * 2.2, color=highlight.get("marker_color", ACCENT),
                                          line=dict(width=1, color="black"), symbol=highlight.get("symbol", "circle"))))
    labels = [f"PC{i + 1} ({explained[i]:.1%})" for i in range(dims)]
    if dims == 3:
        fig.update_layout(scene=dict(xaxis_title=labels[0], yaxis_title=labels[1], zaxis_title=labels[2]))
    else:
        fig.update_xaxes(title_text=labels[0])
        fig.update_yaxes(title_text=labels[1])
    fig.update_layout(title=plot(title), height=620, **{**LAYOUT, "legend": dict(orientation="v")})
    return fig


def explained_variance(ratios: Sequence[float]) -> go.Figure:
    fig = go.Figure(go.Bar(x=[f"PC{i + 1}" for i in range(len(ratios))], y=list(ratios), marker_color=BLUE,
                           text=[f"{r:.1%}" for r in ratios], textposition="outside"))
    fig.update_layout(title="Variance explained by each axis", yaxis_tickformat=".0%", height=260, **LAYOUT)
    return fig


def new_user_map(background: pd.DataFrame, rated: pd.DataFrame, recommended: pd.DataFrame, you: Sequence[float],
                 explained: Sequence[float], scale: tuple[float, float]) -> go.Figure:
    """A new user on the movie map: the movies they rated coloured by the rating they gave, every
    recommendation numbered as in the list, and their folded-in taste ("you").

    ``background``: pc1, pc2 of every movie; ``rated``: pc1, pc2, title, rating; ``recommended``: pc1, pc2,
    title, in list order. Titles are hover text, not labels on the map: at this scale they collided.
    """
    fig = go.Figure()
    fig.add_trace(go.Scattergl(x=background["pc1"], y=background["pc2"], mode="markers", name="movies",
                               hoverinfo="skip", marker=dict(color=FAINT, size=5)))
    fig.add_trace(go.Scatter(
        x=rated["pc1"].tolist(), y=rated["pc2"].tolist(), mode="markers", name="rated by you",
        customdata=np.column_stack([rated["title"].map(plot), rated["rating"]]) if len(rated) else None,
        hovertemplate="<b>%{customdata[0]}</b><br>you gave it %{customdata[1]}<extra></extra>",
        marker=dict(size=16, color=rated["rating"].tolist(), cmin=scale[0], cmax=scale[1], colorscale="RdYlGn",
                    line=dict(width=1, color=DARK), colorbar=dict(title="your rating", x=1.02))))
    ranks = [str(n) for n in range(1, len(recommended) + 1)]
    fig.add_trace(go.Scatter(
        x=recommended["pc1"].tolist(), y=recommended["pc2"].tolist(), mode="markers+text",
        name="recommended (list number)",
        text=ranks, textposition="middle center", textfont=dict(color="white", size=10),
        customdata=np.column_stack([ranks, recommended["title"].map(plot)]) if len(recommended) else None,
        hovertemplate="<b>%{customdata[0]}. %{customdata[1]}</b><extra></extra>",
        marker=dict(size=20, color=ACCENT, symbol="diamond", line=dict(width=1, color=DARK))))
    fig.add_trace(go.Scatter(x=[you[0]], y=[you[1]], mode="markers+text", text=["you"], name="you",
                             textposition="bottom center", hovertemplate="your taste<extra></extra>",
                             marker=dict(size=22, color="black", symbol="star")))
    fig.update_xaxes(title_text=f"PC1 ({explained[0]:.1%})")
    fig.update_yaxes(title_text=f"PC2 ({explained[1]:.1%})")
    fig.update_layout(title="You on the movie map",
                      height=620, **{**LAYOUT, "legend": dict(orientation="h", y=-0.15)})
    return fig
