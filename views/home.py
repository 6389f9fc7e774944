"""Home page: what CF Studio does, the four steps, and a one-click demo that lands on Recommend."""

from __future__ import annotations

import streamlit as st

from cfcore.config import TrainConfig
from ui import state
from ui.data import builtin_dataset
from ui.jobs import TrainingJob, absorb_finished
from ui.text import md

DEMO_SECONDS = 1.0  # redraw cadence of the demo's progress bar while it trains
STEPS = [("views/data.py", "1. Data", ":material/table_chart:",
          "Start with the built-in MovieLens sample, or upload your own ratings (CSV, TSV, u.data, Parquet)."),
         ("views/train.py", "2. Train", ":material/model_training:",
          "Set the model's size and learning rate; watch the error fall live, epoch by epoch."),
         ("views/recommend.py", "3. Recommend", ":material/recommend:",
          "Each person's top picks with the stars the model expects, why, and lists for a brand-new person."),
         ("views/embeddings.py", "4. Embeddings", ":material/scatter_plot:",
          "A map of the movies: those rated alike by the same people sit close together.")]


def intro() -> None:
    """Draw the title, any flash message and what CF Studio does."""
    st.title("CF Studio")
    state.show_flash()
    st.markdown("Learn what people like from a table of **(user, item, rating)** and see it: train a recommender "
                "on your ratings in the browser, then explore its recommendations, similar items and a map of "
                "what it learned.")


def demo_ui(job: TrainingJob | None) -> None:
    """Draw the one-click demo box; its button switches to the built-in data, starts training and reruns."""
    with st.container(border=True):
        st.markdown("**Try it in one click.** Trains the recommended settings on the built-in MovieLens sample "
                    "(100,004 ratings by 671 people; about 20 seconds) and opens the recommendations.")
        if st.button("Run the demo", type="primary", key="home_demo", disabled=job is not None and job.running):
            if state.dataset() is not builtin_dataset():
                state.set_dataset(builtin_dataset())
            state.start_training(TrainConfig())
            st.session_state[state.DEMO] = True
            st.rerun()


def demo_progress() -> None:
    """Redrawn every second while the demo trains; opens Recommend when the model is ready. The sidebar does not
    draw this progress a second time (app.py), so the end reruns the whole page: the sidebar shows the new model."""
    job = st.session_state.get(state.JOB)
    if job is None:
        return
    job.heartbeat()
    if job.running:
        done, text = job.progress()
        st.progress(done, text=f"training: {text}")
        return
    watched = absorb_finished(job, st.session_state, state.JOB_ABSORBED, state.set_active_model)
    st.session_state.pop(state.DEMO, None)
    if not watched:  # it ended while another page was open, which showed it: no jump on coming back
        st.rerun()
    if job.state.result is not None:
        st.switch_page("views/recommend.py")
    state.flash(f"The demo could not train: {md(job.state.message)}", "error")
    st.rerun()


def steps_panel() -> None:
    """Draw the four steps, one linked card each."""
    st.subheader("Four steps")
    for column, (page, label, icon, text) in zip(st.columns(4), STEPS):
        with column.container(border=True):
            st.page_link(page, label=label, icon=icon)
            st.caption(text)


def footer() -> None:
    """Draw the note on the two models and the data's credit."""
    st.caption("Two models train together, with the same settings: a **rating model** (matrix factorisation) "
               "predicts how many stars a person would give and explains it; a **ranking model** learns from which "
               "movies people chose to rate, picks what to show and draws the map. MovieLens data by GroupLens "
               "Research.")


intro()
job: TrainingJob | None = st.session_state.get(state.JOB)
demo_running = bool(st.session_state.get(state.DEMO)) and job is not None and job.running
demo_ui(job)
if st.session_state.get(state.DEMO):
    st.fragment(run_every=DEMO_SECONDS if demo_running else None)(demo_progress)()
steps_panel()
footer()
