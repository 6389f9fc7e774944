"""The sidebar every page shares: the active dataset, the active model and any running job."""

from __future__ import annotations

import streamlit as st

from ui import state
from ui.jobs import absorb_finished
from ui.text import md


def trained_elsewhere(model: state.ActiveModel | None) -> str | None:
    """The name of the dataset the active model was trained on when it is not the active one (activating a run
    changes the model, not the dataset, so the Dataset line above keeps naming the data that was active)."""
    record = model.recommender.record if model is not None else None
    if record is None or not record.dataset.content_hash or record.dataset.content_hash == state.dataset_hash():
        return None
    return record.dataset.name or "another dataset"


def _model_and_job(page_shows_job: bool = False) -> None:
    """Redrawn every 3 s while a job runs, so its end shows (and activates its model) on any page; not on a
    page that draws the job itself (the Train page reruns as a whole when the job ends)."""
    job = st.session_state.get(state.JOB)
    if job is not None:
        job.heartbeat()
    if absorb_finished(job, st.session_state, state.JOB_ABSORBED, state.set_active_model):
        st.rerun()
    st.markdown("**Model**")
    model = state.active_model()
    training = job is not None and job.running
    st.caption(md(model.label) if model else "none yet" if training else "none yet: train one on the Train page")
    other = trained_elsewhere(model)
    if other:
        st.caption(f"trained on {md(other)}, not the active dataset")
    if training and page_shows_job:
        st.caption("training: progress on this page")
    elif training:
        done, text = job.progress()
        st.progress(done, text=f"training: {text}")


def sidebar_status(page_shows_job: bool = False) -> None:
    """The sidebar; ``page_shows_job``: the page draws the running job's progress (the Train page), so the
    sidebar does not draw a second copy on its own clock (two figures a second apart, and the browser
    redrawing twice: CPU that training on a small machine would otherwise use)."""
    with st.sidebar:
        data = state.dataset()
        st.markdown("**Dataset**")
        st.caption(f"{md(data.name)} · {len(data.ratings):,} ratings · {data.ratings.n_users:,} users · "
                   f"{data.ratings.n_items:,} items")
        job = st.session_state.get(state.JOB)
        live = job is not None and job.running and not page_shows_job
        st.fragment(run_every=3.0 if live else None)(_model_and_job)(page_shows_job)
        if data.credit:
            st.caption("Data: MovieLens by GroupLens Research")
