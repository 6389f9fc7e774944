"""What every figure shares: the palette (spelled once), the common layout, and user text made safe for Plotly."""

from __future__ import annotations

import html

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
RUN_COLOURS = (ACCENT, BLUE, GREEN, HIGHLIGHT, "#7B4FA0", "#1B998B", "#C2185B", DARK)  # one per run, in order
LAYOUT = dict(template="plotly_white", margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.2))


def plot(value: object) -> str:
    """Escape a value for Plotly text (titles, hover text, labels), which understands a few HTML tags."""
    return html.escape(str(value), quote=False)


def plot_gl(value: object) -> str:
    """Make a value literal in a 3D scene's axis titles, which WebGL draws itself: it decodes no entities (so
    ``plot``'s "&amp;" would show as such) but reads <b>, <i>, <sup>, <sub> and <br> as markup; a word joiner
    (invisible) after each "<" keeps a tag from being one."""
    return str(value).replace("<", "<\u2060")
