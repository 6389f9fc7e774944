"""Plotly maps of learned vectors: the movie (or user) map, its variance bars, a new user on the map."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from cfcore.figures.charts import decade_ticks
from cfcore.figures.style import ACCENT, BLUE, DARK, FAINT, LAYOUT, plot, plot_gl

HOVER_ITEM = ("<b>%{customdata[0]}</b> (%{customdata[1]})<br>%{customdata[2]}<br>%{customdata[3]} ratings · "
              "bias %{customdata[4]:+.2f}<extra></extra>")

# Up to this many points a 2D map is drawn in SVG: its traces draw in their order, so highlighted ones (added last)
# are on top. WebGL draws above every SVG trace, and among its own traces not reliably in trace order (a later,
# smaller marker showed under an earlier one in Chromium), so beyond this, where SVG gets slow, all is WebGL.
SVG_MAX_POINTS = 10_000


def cloud_trace(n_points: int) -> type:
    """The 2D trace type for a map of ``n_points``: SVG (go.Scatter) when it is small enough, else go.Scattergl."""
    return go.Scatter if n_points <= SVG_MAX_POINTS else go.Scattergl


def item_customdata(frame: pd.DataFrame) -> np.ndarray:
    year = frame["year"].map(lambda y: "?" if pd.isna(y) else f"{y:.0f}")
    # the last column is the item_idx (the frame's index): a box or lasso selection reads it back
    return np.column_stack([frame["title"].map(plot), year, frame["genres"].astype(str).str.replace("|", ", ").map(plot),
                            frame["n_ratings"], frame["bias"], frame.index.to_numpy()])


def count_colorbar(counts: pd.Series, title: str) -> dict:
    """A colour bar for log10(count) whose ticks read as counts (10, 100, 1,000), not as logarithms."""
    ticks = decade_ticks(float(max(1, counts.min())), float(max(1, counts.max())))
    return dict(title=dict(text=title, side="right"), tickvals=np.log10(ticks).tolist(),
                ticktext=[f"{t:,.0f}" for t in ticks], x=1.02, len=0.8)


def embedding_map(frame: pd.DataFrame, color: str, dims: int, explained: Sequence[float],
                  highlight: pd.DataFrame | None = None, hover: str = "item", title: str = "",
                  axis_titles: Sequence[str] | None = None, genre: str | None = None,
                  method: str = "PCA") -> go.Figure:
    """A 2D or 3D scatter of projected rows; ``highlight`` rows drawn on top with their ``label``.

    ``color``: a numeric column (a colour bar; "n_ratings", a movie's popularity, on a log scale with counts
    as ticks), or "genre", with ``genre`` in colour and every other point grey (one colour reads; 19 did not).
    ``axis_titles``: what each axis means, e.g. the titles at its two ends (default "PC1 (27.4%)").
    """
    axes = [f"pc{i + 1}" for i in range(dims)]
    custom = item_customdata(frame) if hover == "item" else np.column_stack(
        [frame["user_id"].map(plot), frame["n_ratings"], frame["bias"]])
    template = HOVER_ITEM if hover == "item" else \
        "<b>user %{customdata[0]}</b><br>%{customdata[1]} ratings · bias %{customdata[2]:+.2f}<extra></extra>"
    fig = go.Figure()
    scatter = go.Scatter3d if dims == 3 else cloud_trace(len(frame))
    size = 3 if dims == 3 else 6

    def add(part: pd.DataFrame, name: str, marker: dict) -> None:
        coords = {a: part[c] for a, c in zip("xyz", axes)}
        fig.add_trace(scatter(**coords, mode="markers", customdata=custom[frame.index.get_indexer(part.index)],
                              hovertemplate=template, name=plot(name), marker=dict(size=size, **marker),
                              showlegend="colorbar" not in marker))  # a colour bar explains itself

    if color == "genre":
        member = frame["genres"].astype(str).str.split("|").map(lambda g: genre in g)
        add(frame[~member], "other movies", dict(color=FAINT, opacity=0.6))
        add(frame[member], f"{genre} ({int(member.sum()):,})", dict(color=ACCENT, opacity=0.85))
    elif color == "n_ratings":
        counts = frame["n_ratings"].clip(lower=1)
        add(frame, "ratings", dict(color=np.log10(counts), colorscale="Viridis", showscale=True, opacity=0.8,
                                   colorbar=count_colorbar(counts, "ratings (log scale)")))
    else:
        add(frame, color, dict(color=frame[color], colorscale="RdBu" if color == "bias" else "Viridis",
                               cmid=0 if color == "bias" else None, showscale=True, opacity=0.8,
                               colorbar=dict(title=dict(text=color, side="right"), x=1.02, len=0.8)))
    if highlight is not None and len(highlight):
        highlight_points(fig, highlight, axes, scatter, size, hover)
    labels = list(axis_titles) if axis_titles else [
        f"{method} {i + 1}" + (f" ({explained[i]:.1%})" if method == "PCA" else "") for i in range(dims)]
    if dims == 3:
        # the camera a little further out than Plotly's (1.25, 1.25, 1.25): the PC2 title ran off the bottom
        fig.update_layout(scene=dict(xaxis_title=gl_axis_title(labels[0]), yaxis_title=gl_axis_title(labels[1]),
                                     zaxis_title=gl_axis_title(labels[2]),
                                     camera=dict(eye=dict(x=1.6, y=1.6, z=1.0))))
    else:
        fig.update_xaxes(title_text=plot(labels[0]))
        fig.update_yaxes(title_text=plot(labels[1]))
    # the legend sits above the plot, the colour bar to its right: they never overlap
    fig.update_layout(title=plot(title), height=640, dragmode="select" if dims == 2 else None,
                      **{**LAYOUT, "legend": dict(orientation="h", y=1.0, yanchor="bottom", x=0, xanchor="left"),
                         "margin": dict(l=10, r=10, t=70, b=10)})
    return fig


def gl_axis_title(title: str) -> str:
    """A 3D axis title, literal, on short lines ("PC2 (12%)" / "A ↔" / "B"): one long line per axis made the
    PC2 and PC3 titles run into each other."""
    return plot_gl(title).replace(": ", "<br>").replace(" ↔ ", " ↔<br>")


def label_annotation(x: float, y: float, text: str, inside: bool, z: float | None = None) -> dict:
    """A highlighted point's label as an annotation: annotations draw above every trace, WebGL ones included,
    and a label beside its point gets a white box so it reads over the cloud."""
    note = dict(x=x, y=y, text=plot(text), showarrow=False, font=dict(size=10 if inside else 11, color="black"))
    if not inside:
        note.update(bgcolor="rgba(255,255,255,0.85)", borderpad=2, yanchor="bottom", yshift=10)
    if z is not None:
        note["z"] = z
    return note


def highlight_points(fig: go.Figure, highlight: pd.DataFrame, axes: Sequence[str], scatter: type, size: int,
                     hover: str) -> None:
    """Draw the chosen movie and its neighbours above the cloud: markers of the cloud's own trace type, added last
    (WebGL traces draw above SVG ones whatever their order, so an SVG marker sat under a WebGL cloud), and
    labels as annotations (above everything): the chosen movie's title in a white box over it, each neighbour's
    list number inside its marker (titles next to ten close points collided; the table beside the map names them)."""
    inside = highlight.get("label_inside", pd.Series(False, index=highlight.index)).to_numpy(bool)
    notes = []
    # drawn in reverse list order, so neighbour 1 lies above 2 where they overlap; the chosen movie last, on top
    for part, is_inside in ((highlight[inside].iloc[::-1], True), (highlight[~inside], False)):
        if not len(part):
            continue
        coords = {a: part[c] for a, c in zip("xyz", axes)}
        fig.add_trace(scatter(
            **coords, mode="markers", customdata=item_customdata(part) if hover == "item" else None,
            hovertemplate=HOVER_ITEM if hover == "item" else None,
            name="nearest neighbours (list number)" if is_inside else "chosen movie",
            marker=dict(size=size * (3.3 if is_inside else 2.6), opacity=1, color=part.get("marker_color", ACCENT),
                        line=dict(width=1, color="black"), symbol=part.get("symbol", "circle"))))
        for _, row in part.iterrows():
            notes.append(label_annotation(row[axes[0]], row[axes[1]], row["label"], is_inside,
                                          row[axes[2]] if len(axes) == 3 else None))
    if len(axes) == 3:
        fig.update_layout(scene_annotations=notes)
    else:
        fig.update_layout(annotations=notes)


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
    # every trace of one kind (see SVG_MAX_POINTS): an SVG trace sat under the WebGL cloud whatever its order
    scatter = cloud_trace(len(background))
    fig = go.Figure()
    fig.add_trace(scatter(x=background["pc1"], y=background["pc2"], mode="markers", name="movies", hoverinfo="skip",
                          marker=dict(color=FAINT, size=5)))
    fig.add_trace(scatter(
        x=rated["pc1"].tolist(), y=rated["pc2"].tolist(), mode="markers", name="rated by you",
        customdata=np.column_stack([rated["title"].map(plot), rated["rating"]]) if len(rated) else None,
        hovertemplate="<b>%{customdata[0]}</b><br>you gave it %{customdata[1]}<extra></extra>",
        marker=dict(size=16, color=rated["rating"].tolist(), cmin=scale[0], cmax=scale[1], colorscale="RdYlGn",
                    line=dict(width=1, color=DARK), colorbar=dict(title="your rating", x=1.02))))
    recommended = recommended.iloc[::-1]  # drawn last to first, so number 1 lies above 2 where they overlap
    ranks = [str(n) for n in range(len(recommended), 0, -1)]
    fig.add_trace(scatter(
        x=recommended["pc1"].tolist(), y=recommended["pc2"].tolist(), mode="markers+text",
        name="recommended (list number)",
        text=ranks, textposition="middle center", textfont=dict(color="white", size=10),
        customdata=np.column_stack([ranks, recommended["title"].map(plot)]) if len(recommended) else None,
        hovertemplate="<b>%{customdata[0]}. %{customdata[1]}</b><extra></extra>",
        marker=dict(size=20, color=ACCENT, symbol="diamond", line=dict(width=1, color=DARK))))
    fig.add_trace(scatter(x=[you[0]], y=[you[1]], mode="markers", name="you", hovertemplate="your taste<extra></extra>",
                          marker=dict(size=22, color="black", symbol="star")))
    # "you" in a white box below the star: an annotation draws above every point
    fig.add_annotation(x=you[0], y=you[1], text="you", showarrow=False, yanchor="top", yshift=-12,
                       bgcolor="rgba(255,255,255,0.85)", borderpad=2, font=dict(size=12, color="black"))
    fig.update_xaxes(title_text=f"PC1 ({explained[0]:.1%})")
    fig.update_yaxes(title_text=f"PC2 ({explained[1]:.1%})")
    fig.update_layout(title="You on the movie map",
                      height=620, **{**LAYOUT, "legend": dict(orientation="h", y=-0.15)})
    return fig


def training_animation(coords: np.ndarray, epochs: Sequence[float], movies: pd.DataFrame, member: np.ndarray,
                       genre: str | None, zoom: bool = False) -> go.Figure:
    """The movie map played over training: one animation frame per stored epoch, a slider and Play.

    ``coords``: (E, n, 2) positions of the ``movies`` (title, year, genres, n_ratings) at each of ``epochs``
    (0 = before training); ``member``: (n,) movies of ``genre``, drawn in colour over the grey rest.
    ``zoom``: scale each frame to the last one's spread, so the first epochs' small cloud is readable.
    """
    coords = np.asarray(coords, np.float64)
    if zoom:
        centre = coords.mean(axis=1, keepdims=True)  # (E, 1, 2): the cloud may drift ("as trained")
        spread = np.sqrt(((coords - centre) ** 2).mean(axis=(1, 2), keepdims=True))  # (E, 1, 1)
        coords = centre + (coords - centre) * (spread[-1] / np.maximum(spread, 1e-12))  # scaled about its centre
    member = np.asarray(member, bool)
    groups = [("other movies" if genre else "movies", ~member, dict(color=FAINT if genre else BLUE, size=5, opacity=0.6)),
              (f"{genre} ({int(member.sum()):,})", member, dict(color=ACCENT, size=6, opacity=0.85))]
    groups = [g for g in groups if g[1].any() or genre]  # no genres: one trace, every movie alike
    year = movies["year"].map(lambda y: "?" if pd.isna(y) else f"{y:.0f}")
    hover = (movies["title"].map(plot) + " (" + year + ")<br>" + movies["n_ratings"].map("{:,} ratings".format)).to_numpy()

    def traces(e: int, first: bool = False) -> list[go.Scatter]:
        # float32 halves what the browser receives; names, colours and hover text go in the first frame only
        return [go.Scatter(x=coords[e, mask, 0].astype(np.float32), y=coords[e, mask, 1].astype(np.float32),
                           **(dict(mode="markers", name=plot(name), marker=marker, text=hover[mask], hoverinfo="text")
                              if first else {}))
                for name, mask, marker in groups]

    def label(e: float) -> str:
        return "start" if e == 0 else f"epoch {e:g}"

    frames = [go.Frame(data=traces(i), name=label(e)) for i, e in enumerate(epochs)]
    fig = go.Figure(data=traces(0, first=True), frames=frames)
    low, high = coords.min(axis=(0, 1)), coords.max(axis=(0, 1))  # (2,): one fixed frame for all epochs
    pad = (high - low) * 0.05 + 1e-9
    play = dict(frame=dict(duration=700, redraw=False), transition=dict(duration=400), fromcurrent=True)
    fig.update_layout(
        title=f"The map over training: {len(movies):,} most-rated movies" + (f", {genre} in colour" if genre else ""),
        height=620,
        xaxis=dict(range=[low[0] - pad[0], high[0] + pad[0]], title="PC1 of the final map", zeroline=False),
        yaxis=dict(range=[low[1] - pad[1], high[1] + pad[1]], title="PC2 of the final map", zeroline=False),
        updatemenus=[dict(type="buttons", direction="left", x=0, y=-0.08, xanchor="left", yanchor="top",
                          showactive=False, buttons=[
                              dict(label="▶ Play", method="animate", args=[None, play]),
                              dict(label="❚❚ Pause", method="animate",
                                   args=[[None], dict(frame=dict(duration=0, redraw=False), mode="immediate")])])],
        sliders=[dict(active=0, x=0.16, len=0.84, y=-0.04, yanchor="top", currentvalue=dict(prefix="showing ", xanchor="right"),
                      steps=[dict(label=label(e), method="animate",
                                  args=[[label(e)], dict(mode="immediate", frame=dict(duration=0, redraw=False),
                                                         transition=dict(duration=0))]) for e in epochs])],
        **{**LAYOUT, "legend": dict(orientation="h", y=1.0, yanchor="bottom", x=0, xanchor="left"),
           "margin": dict(l=10, r=10, t=70, b=110)})
    return fig
