"""User data as text: titles, ids and file names from uploads are shown literally, never as Markdown or HTML
(``cfcore.figures.style.plot`` does the same for Plotly text)."""

from __future__ import annotations

import re

# ':' too: GitHub-flavoured Markdown turns a bare "http://..." into a link, "http\://..." stays text
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$&:])")


def md(value: object) -> str:
    """Escape a value for Streamlit Markdown (st.markdown, captions, alerts, widget labels)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(value))

