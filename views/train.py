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
from cfcore.progress import StepRecord
from cfcore.rankers import registry
from cfcore.records import RunRecord
from cfcore.runs import load_run, run_label
from cfcore.sizes import human_bytes
from cfcore.split import Split
from cfcore.verdict import verdict
from ui import state
from ui.activate import activate
from ui.buckets import bucket_panel
from ui.forms import config_form, evaluation_from_state, load_settings
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


def _after_epochs(config: TrainConfig) -> tuple[str, float | None]:
    """What a run does after its epochs, in words, and how long that took the active model's run on this data
    with the same ranking kind (None: not known), so a 0.6 s estimate is not read as the whole wait for a run
    that then spends 7 s fitting EASE and judging its lists."""
    fit = (f"fitting the {registry.label(config.ranking_model)} ranking model, "
           if registry.get(config.ranking_model).slow_fit else "")
    return f"{fit}judging the lists and saving", state.finish_seconds(config)


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
        after, after_seconds = _after_epochs(config)
        in_all = (f"; about {_seconds(after_seconds)} for the active model's run, so at most "
                  f"**{_seconds(per_epoch * config.epochs + after_seconds)}** in all") if after_seconds else ""
        st.markdown(f"**Expected:** about {_seconds(per_epoch)} per epoch{both}, at most "
                    f"{_seconds(per_epoch * config.epochs)} for {config.epochs} epochs, then {after}{in_all}",
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
                "you can visit other pages and come back."
                + (" Below: the active model's result." if state.active_model() is not None else ""))
        return
    job.heartbeat()
    s = job.state
    done, text = job.progress()
    if job.running:  # after the epochs the bar's text says what the run is doing (see TrainingJob.progress)
        st.progress(done, text=text)
    if job.running and s.end is not None:
        st.caption(f"{md(s.end.message)}.")
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


STOP_REASONS = {"completed": "It ran every epoch", "early_stopping": "It stopped early: validation stopped improving",
                "stopped": "It was stopped by hand", "diverged": "It diverged"}


def verdict_ui(record: RunRecord, run_id: str | None) -> None:
    """The run's verdict where a presenter looks first: a bad run says what it means and why, with a button
    back to the run that was active before it; a good one a quiet line."""
    v = verdict(record)
    if v.level == "good":
        st.caption(f"{v.mark} {md(v.headline)}")
        return
    alert = st.error if v.level == "bad" else st.warning
    alert(f"**{md(v.headline)}**  \n{md(v.cause)}",
          icon=":material/error:" if v.level == "bad" else ":material/trending_up:")
    model, previous = state.active_model(), state.previous_active()
    if v.level == "bad" and previous and model is not None and model.run_id == run_id and run_id != previous[0]:
        previous_id, label = previous
        if st.button(f"Make {md(label)} active again", key="train_previous_active", icon=":material/undo:",
                     help="Recommend and Embeddings go back to the model that was active before this run; this "
                          "run stays saved on the Runs page."):
            def load():
                rec = load_run(state.runs_dir(), previous_id)
                return rec, previous_id, run_label(previous_id, rec.record)
            if activate(load):
                state.flash(f"{md(state.active_model().label)} is the active model again.")
                st.rerun()


def _record_steps(record: RunRecord) -> tuple[list[StepRecord], int]:
    """The run's saved per-step losses as the records the training chart draws, and its steps per epoch."""
    log = record.step_loss
    steps = [StepRecord(step, 0, 0.0, loss, 0.0) for step, loss in zip(log.step, log.train_loss)]
    first = record.epochs[0] if record.epochs else None
    per_epoch = round(first.step / first.completed) if first is not None and first.step and first.completed else 1
    return steps, max(1, per_epoch)


def record_panel(record: RunRecord, run_id: str | None, seconds: float, where: str, message: str) -> None:
    """A run's result, from its record alone: verdict, metrics, lists, where it errs, and its settings."""
    st.subheader("Result")
    verdict_ui(record, run_id)
    base = record.baselines
    c = st.columns(4)
    c[0].metric("Validation RMSE", f"{record.val_rmse:.4f}",
                delta=f"{record.val_rmse - base.bias_rmse:+.4f} vs bias-only", delta_color="inverse",
                help="Root mean squared error on held-out ratings: how many stars a prediction is typically "
                     "off, with big misses counting more. Lower is better.")
    c[1].metric("Validation MAE", f"{record.val_mae:.4f}",
                delta=f"{record.val_mae - base.bias_mae:+.4f} vs bias-only", delta_color="inverse",
                help="Mean absolute error on held-out ratings: the average number of stars a prediction is off.")
    c[2].metric("Best epoch", f"{record.best_epoch} of {len(record.epochs)}")
    c[3].metric("Time", _seconds(seconds))  # two significant figures: a run on a small file takes 0.04 s
    if record.test_rmse is not None:  # a test file was given on the Data page
        t = st.columns(4)
        t[0].metric("Test RMSE", f"{record.test_rmse:.4f}", help="RMSE on the test file's ratings, which neither "
                    "trained the model nor chose its epoch: the fairest estimate of how it does on new ratings.")
        t[1].metric("Test MAE", f"{record.test_mae:.4f}")
    st.caption(f"Baselines on the same split: global mean RMSE {base.global_mean_rmse:.4f} (predict the "
               f"average rating for everyone), bias-only RMSE {base.bias_rmse:.4f} (average plus how generous "
               f"each user and how liked each movie is). Device: {md(record.where.device or 'not recorded')}"
               + (f", on {md(where)}" if where else "") + f". {md(message)}.")
    if record.ladder:
        st.markdown(f"**Recommendation lists** (ordered by {registry.label(record.ranking_kind)}; stars from the "
                    "rating model)")
        sentence = lists_verdict(record)
        if sentence:
            st.markdown(sentence)
        ladder_panel(record.ladder, record.ranking_kind, "train_ladder")
    bucket_panel(record.buckets, record.evaluation.k, "train_buckets")
    st.button("Load these settings", key="train_load_settings", icon=":material/tune:",
              on_click=load_settings, args=(record.config, record.evaluation),
              help="Fill the form above with this run's hyperparameters, to train it again or change one.")


def result_panel(job: TrainingJob) -> None:
    """Draw how the ended job ended and, when it kept a model, its metrics, lists and where it was saved."""
    s = job.state
    if s.status in ("diverged", "failed"):
        st.error(md(s.message))
    elif s.status == "stopped":
        st.warning(md(s.message))
    if s.result is None:
        return
    run_id = s.run_info.run_id if s.run_info else None
    record_panel(s.result.record, run_id, (s.finished or time.time()) - s.started, s.where, s.message)
    if s.run_info:
        active = state.active_model()
        still = active is not None and active.run_id == run_id  # not after "Make ... active again"
        st.success(f"Saved as run **{s.run_info.run_id}**" + (" and made the active model." if still else "."))
    st.page_link("views/recommend.py", label="Explore its recommendations", icon=":material/arrow_forward:")
    repeat_result(s.run_info)


def active_run_panel() -> None:
    """With no job in this session (a reload, a shared link, a run made active on the Runs page): the active
    run's result, curves included, drawn from its record."""
    model = state.active_model()
    record = model.recommender.record if model is not None else None
    if record is None:
        return
    st.markdown(f"**Active model: {md(model.label)}** · trained on {md(record.dataset.name)}")
    steps, per_epoch = _record_steps(record)
    st.plotly_chart(charts.training_figure(steps, record.epochs, record.baselines.lines(), per_epoch, (),
                                           record.ranker_epochs, registry.get(record.ranking_kind).trained),
                    key="train_record_chart")
    record_panel(record, model.run_id, record.seconds + record.ranking_seconds,
                 record.where.launcher, STOP_REASONS.get(record.stop_reason, record.stop_reason))
    if model.run_id:
        repeat_result(state.run_info(model.run_id))


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
    if _superseded(job):  # this session's last run is over and another run is active: show that one
        active_run_panel()
        return
    st.fragment(run_every=LIVE_SECONDS if job is not None and job.running else None)(live_panel)()
    if job is not None and not job.running:
        result_panel(job)
    elif job is None:
        active_run_panel()


def _superseded(job: TrainingJob | None) -> bool:
    """True when the session's job ended, its model was taken in, and another saved run became active since
    (on the Runs page, or "Make ... active again"): the page then shows the active run, not the job."""
    if job is None or job.running or not st.session_state.get(state.JOB_ABSORBED):
        return False
    model = state.active_model()
    own = job.state.run_info.run_id if job.state.run_info else None
    return model is not None and model.run_id is not None and model.run_id != own and \
        model.recommender.record is not None


main()
