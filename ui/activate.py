"""Making a model the active one from a page: a failed load stays on the page as an error, and the model
that was active stays active."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import streamlit as st

from cfcore.errors import CFError
from cfcore.runs import RunInfo, load_run, run_label
from ui import state
from ui.text import md

if TYPE_CHECKING:
    from cfcore.queries import Recommender


def activate(load: Callable[[], tuple[Recommender, str, str]]) -> str | None:
    """Run ``load()`` (giving recommender, run id, label) and make its model active; the run id, or None
    after showing the CFError it raised."""
    try:
        rec, run_id, label = load()
    except CFError as exc:
        st.error(md(exc))
        return None
    state.set_active_model(rec, run_id, label)
    return run_id


def activate_run(run: RunInfo) -> str | None:
    """Make a listed run the active model (see ``activate``)."""
    def load():
        rec = load_run(state.runs_dir(), run.run_id)
        return rec, run.run_id, run_label(run.run_id, rec.record)
    return activate(load)
