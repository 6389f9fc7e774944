"""Train page: hyperparameters, a resource estimate, and live training in a background job."""

from __future__ import annotations

import time

import streamlit as st

from cfcore.config import TrainConfig
from cfcore.data.dataset import Dataset
from cfcore.device import describe_device, resolve_device
from cfcore.errors import CFError
from cfcore.estimate import ResourceEstimate, estimate_resources
from cfcore.figures import charts
from cfcore.figures.live import training_svg
from cfcore.launch import registry as launchers
from cfcore.rankers import registry
from cfcore.sizes import human_bytes
from cfcore.split import Split
from ui import state
from ui.buckets import bucket_panel
from ui.forms import config_form, evaluation_from_state
from ui.jobs import TrainingJob, absorb_finished
from ui.ranking import ladder_panel, lists_verdict
from ui.repeats import repeat_result
from ui.text import md

LIVE_SECONDS = 2.0  # redraw cadence while training: each redraw costs the server and the browser CPU that
#                     training on a 2-core machine would otherwise use


def _seconds(value: float) -> str:
    """0.023 -> "0.02 s", 4.2 -> "4.2 s", 95 -> "95 s", 700 -> "12 min": two significant figures."""
    if value >= 600:
        return f"{value / 60:.0f} min"
    return f"{value:.2g} s" if value < 10 else f"{value:.0f} s"


def _ranking_fit_note(config: TrainConfig) -> str:
    """The part of a run the epoch estimate leaves out: fitting a slow ranking model (EASE) at the end, with how
    long it took for the active model when that was trained on this data with the same kind (so a 0.6 s
    estimate is not read as the whole wait for a run that takes 7 s)."""
    if not registry.get(config.ranking_model).slow_fit:
        return ""  # most popular: a count; the rating model's own lists: nothing to fit
    note = f", then fitting the {registry.label(config.ranking_model)} ranking model"
    model = state.active_model()
    record = model.recommender.record if model else None
    if (record is not None and record.dataset.content_hash == state.dataset_hash()
            and record.ranking_kind == config.ranking_model):
        note += f" ({_seconds(record.ranking_seconds)} for the active model)"
    return note


def overfitting_note(epochs, best_val_rmse: float) -> str | None:
    """Say so when the model fits its training ratings far better than held-out ones (not a green number)."""
    if not epochs:
        return None
    last = epochs[-1]
    if last.train_rmse >= 0.8 * best_val_rmse:
        return None
    return (f"Overfitting: by the last epoch the training RMSE ({last.train_rmse:.3f}) was far below the validation "
            f"RMSE ({last.val_rmse:.3f}), so the model was memorising its training ratings rather than learning "
            f"taste. The run keeps the epoch that did best on validation ({best_val_rmse:.4f}); more weight decay "
            "or a smaller embedding dimension narrows the gap.")


def split_ui(data: Dataset) -> Split | None:
    """Draw which split trains; return it, or None (with the reason and a way back) when it does not fit the data."""
    try:
        parts = state.current_split()
    except CFError as exc:
        st.error(f"The current split does not work on this dataset: {md(exc)}")
        st.page_link("views/data.py", label="Change the split on the Data page", icon=":material/arrow_back:")
        return None
    st.caption(f"**{md(data.name)}** · {parts.method} split: {len(parts.train):,} training and {len(parts.val):,} "
               "validation ratings (change it on the Data page)")
    return parts


def settings_ui(running: bool) -> tuple[TrainConfig | None, str | None]:
    """Draw the hyperparameter form; return (config, None) or (None, what is wrong with the values)."""
    # while a job runs the settings fold away, so the live charts sit in view instead of 600 px down
    with st.expander("Settings" + (" (training now; changes apply to the next run)" if running else ""),
                     expanded=not running):
        return config_form()


def device_ui(config: TrainConfig | None, problem: str | None) -> str | None:
    """Draw the device, where runs execute and what stops a run; return that problem (the device's first), or None."""
    try:
        device = describe_device(resolve_device(config.device if config else "auto"),
                                 config.optimizer if config else "sparse_adam")
    except CFError as exc:
        device, problem = "unavailable", str(exc)
    st.markdown(f"**Device:** {device}  \n**Runs on:** {md(launchers.choose().describe())}",
                help="Where training happens: set with `cfstudio app --launcher` (or $CF_STUDIO_LAUNCHER).")
    if problem:
        st.error(md(problem))
    return problem


def _timed_estimate(data: Dataset, parts: Split, config: TrainConfig) -> ResourceEstimate | CFError:
    """Memory and seconds per epoch from a second of real steps, or the refusal, under a spinner."""
    try:
        with st.spinner("Timing a few steps..."):
            return estimate_resources(parts.train, parts.val, config,
                                      handoff_bytes=launchers.choose().copy_bytes(data, parts))
    except CFError as exc:
        return exc


def estimate_ui(data: Dataset, parts: Split, config: TrainConfig) -> ResourceEstimate | None:
    """Draw the memory and time this config needs (timed once per split and config); return it, None if refused."""
    e = state.memo(data, ("estimate", state.split_settings(), config), lambda: _timed_estimate(data, parts, config))
    if isinstance(e, CFError):
        st.error(md(e))
        return None
    st.markdown(f"**Parameters:** {e.n_parameters:,}  \n"
                f"**Memory:** {human_bytes(e.weights_bytes)} weights + {human_bytes(e.optimizer_bytes)} "
                f"optimizer state and copies + {human_bytes(e.data_bytes)} data"
                + (" (the training process's copy included)" if e.handoff_bytes else "") + " = "
                f"**{human_bytes(e.total_bytes)}** of {human_bytes(e.available_bytes)} free")
    if e.seconds_per_epoch is not None:
        per_epoch = e.seconds_per_epoch + (e.lists_seconds_per_epoch or 0.0)
        both = (f" ({_seconds(e.seconds_per_epoch)} for the stars, {_seconds(e.lists_seconds_per_epoch)} for the "
                "lists' model)") if e.lists_seconds_per_epoch is not None else f" ({e.steps_per_epoch:,} steps)"
        st.markdown(f"**Expected:** about {_seconds(per_epoch)} per epoch{both}, at most "
                    f"{_seconds(per_epoch * config.epochs)} for {config.epochs} epochs" + _ranking_fit_note(config),
                    help="Timed on this data with the real training loops for about a second (validation "
                         "included). Early stopping usually ends sooner. After the epochs come judging the lists "
                         "(beside most popular, EASE and the rating model's own) and saving the run: seconds on "
                         "the built-in data, a minute or two on millions of ratings (EASE's cost grows with the "
                         "number of movies it models, at most its `max_items`).")
    if not e.fits:
        st.error(f"This configuration needs {human_bytes(e.total_bytes)} but only "
                 f"{human_bytes(e.available_bytes)} is free on {e.device}; lower the embedding dimension.")
    return e


def buttons_ui(job: TrainingJob | None, running: bool, config: TrainConfig | None, can_start: bool) -> None:
    """Draw Train (starts a job and reruns the page) and Stop (ends the running job after its current step)."""
    start_col, stop_col = st.columns(2)
    if start_col.button("Train", type="primary", disabled=not can_start, key="train_start", width="stretch"):
        state.start_training(config, evaluation_from_state())
        st.rerun()
    # a callback runs before the rerun it triggers, so that one run already draws the stopped state
    stop_col.button("Stop", disabled=not running or job.state.end is not None, key="train_stop", width="stretch",
                    on_click=job.stop_and_wait if running else None)


def live_panel() -> None:
    """Redrawn every LIVE_SECONDS while the job runs; reruns the page once when it ends."""
    job: TrainingJob | None = st.session_state.get(state.JOB)
    if job is None:
        st.info("Set the hyperparameters and press **Train**. The loss curves update live while it runs; "
                "you can visit other pages and come back.")
        return
    job.heartbeat()
    s = job.state
    done, text = job.progress()
    if job.running and s.end is not None:  # stopped or finished: saving takes a moment on large data
        st.warning(f"{md(s.end.message)}. Keeping the best model and saving the run…", icon=":material/hourglass_top:")
    elif job.running:
        st.progress(done, text=text)
    for note in s.notes[:1]:
        st.caption(md(note))
    lists = registry.get(job.config.ranking_model).trained  # the tuned model's loss and NDCG, in a second row
    if job.running:  # a cheap SVG while training shares the CPU with the browser (see cfcore/figures/live.py)
        st.image(training_svg(list(s.steps), list(s.epochs), s.baselines, job.steps_per_epoch, job.config.epochs,
                              list(s.ranker_steps), list(s.ranker_epochs), lists), width="stretch")
    else:
        st.plotly_chart(charts.training_figure(list(s.steps), list(s.epochs), s.baselines, job.steps_per_epoch,
                                               list(s.ranker_steps), list(s.ranker_epochs), lists),
                        key="train_live_chart")
    if absorb_finished(job, st.session_state, state.JOB_ABSORBED, state.set_active_model):
        st.rerun()  # the whole page: summary, buttons and sidebar


def result_panel(job: TrainingJob) -> None:
    """Draw how the ended job ended and, when it kept a model, its metrics, lists and where it was saved."""
    s = job.state
    if s.status in ("diverged", "failed"):
        st.error(md(s.message))
    elif s.status == "stopped":
        st.warning(md(s.message))
    if s.result is None:
        return
    record = s.result.record
    st.subheader("Result")
    base = record.baselines
    c = st.columns(4)
    c[0].metric("Validation RMSE", f"{record.val_rmse:.4f}",
                delta=f"{record.val_rmse - base.bias_rmse:+.4f} vs bias-only", delta_color="inverse",
                help="Root mean squared error on held-out ratings: how many stars a prediction is typically "
                     "off, with big misses counting more. Lower is better.")
    c[1].metric("Validation MAE", f"{record.val_mae:.4f}",
                delta=f"{record.val_mae - base.bias_mae:+.4f} vs bias-only", delta_color="inverse",
                help="Mean absolute error on held-out ratings: the average number of stars a prediction is off.")
    c[2].metric("Best epoch", f"{record.best_epoch} of {len(s.epochs)}")
    c[3].metric("Time", f"{(s.finished or time.time()) - s.started:.1f} s")
    st.caption(f"Baselines on the same split: global mean RMSE {base.global_mean_rmse:.4f} (predict the "
               f"average rating for everyone), bias-only RMSE {base.bias_rmse:.4f} (average plus how generous "
               f"each user and how liked each movie is). Device: {md(s.device)}, on {md(s.where)}. "
               f"{md(s.message)}.")
    gap = overfitting_note(s.epochs, record.val_rmse)
    if gap:
        st.warning(gap, icon=":material/trending_down:")
    if record.ladder:
        st.markdown(f"**Recommendation lists** (ordered by {registry.label(record.ranking_kind)}; stars from the "
                    "rating model)")
        sentence = lists_verdict(record)
        if sentence:
            st.markdown(sentence)
        ladder_panel(record.ladder, record.ranking_kind, "train_ladder")
    bucket_panel(record.buckets, record.evaluation.k, "train_buckets")
    if s.run_info:
        st.success(f"Saved as run **{s.run_info.run_id}** and made the active model.")
    st.page_link("views/recommend.py", label="Explore its recommendations", icon=":material/arrow_forward:")
    repeat_result(job)


def main() -> None:
    """The page: split, settings beside device, estimate and buttons, the live panel, the result."""
    st.title("Train")
    state.show_flash()
    data = state.dataset()
    parts = split_ui(data)
    if parts is None:
        return
    job: TrainingJob | None = st.session_state.get(state.JOB)
    running = job is not None and job.running
    form_col, side_col = st.columns([3, 2], gap="large")
    with form_col:
        config, problem = settings_ui(running)
    with side_col:
        problem = device_ui(config, problem)
        estimate = None if problem or running else estimate_ui(data, parts, config)
        can_start = config is not None and not running and (estimate is None or estimate.fits) and not problem
        buttons_ui(job, running, config, can_start)
    st.fragment(run_every=LIVE_SECONDS if job is not None and job.running else None)(live_panel)()
    if job is not None and not job.running:
        result_panel(job)


main()
