"""Runs page: every saved run, compared, activated, downloaded, deleted; checkpoints loaded; sweeps."""

from __future__ import annotations

import hashlib
import math
from datetime import datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from cfcore.config import TrainConfig
from cfcore.errors import CFError
from cfcore.figures import charts
from cfcore.rankers import registry
from cfcore.records import RunRecord
from cfcore.runs import NAME_MAX, NOTE_MAX, RunInfo, delete_run, import_checkpoint, list_runs, set_run_label
from cfcore.split import SplitSettings
from cfcore.verdict import verdict
from ui import state
from ui.activate import activate, activate_run
from ui.buckets import bucket_panel
from ui.compare import diff_panel, settings_panel
from ui.forms import BATCH_SIZES, LEARNING_RATES, config_from_state, evaluation_from_state, load_settings
from ui.jobs import SweepJob
from ui.ranking import METRIC_HELP, ladder_panel
from ui.repeats import collapse, group_ladder_panel, groups_table, mark_groups, repeat_button, repeat_progress_panel
from ui.text import md

RANKING_COLUMNS = {"NDCG@10": METRIC_HELP["ndcg"], "P@10": METRIC_HELP["precision"], "R@10": METRIC_HELP["recall"],
                   "popularity NDCG@10": "NDCG@10 of the most-popular ranking on the same split: the floor to beat."}
VERDICT_HELP = ("✓ beats bias-only (and most popular's lists); ⚠ overfit: validation RMSE rose well above its best; "
                "✗ not worth presenting: worse than bias-only or most popular, or diverged. The Train page says why.")
SETTINGS = ["dim", "learning rate", "batch", "weight decay", "dropout", "optimizer", "lists by"]  # parcoords axes
GROUPS = {"none": None, "dataset": "dataset", "lists by": "lists by"}
PARCOORDS_KEY = "runs_parcoords_dataset"  # + a digest of the runs per dataset
PARCOORDS_CHOICE = "runs_parcoords_choice"  # the dataset last chosen there, across its keys
TABLE_KEY = "runs_table"  # + a digest of the rows shown: a new filter starts with no selection
SWEEP_DIMS = [4, 8, 16, 32, 50, 64, 100, 128, 200]
SWEEP_WEIGHT_DECAYS = [0.0, 0.001, 0.01, 0.02, 0.05, 0.1, 0.2]


STATUS = {"completed": "completed", "early_stopping": "stopped early", "stopped": "stopped by user",
          "diverged": "diverged"}  # EndRecord.reason -> what the table says


def run_status(record: RunRecord) -> str:
    """How the run ended, in words: partial (stopped inside epoch 1) first, else its EndRecord reason."""
    return "partial" if record.partial else STATUS.get(record.stop_reason, record.stop_reason or "unknown")


def split_text(settings: SplitSettings | None) -> str:
    """A split in a few words: method, the share of ratings trained on, seed ("random 0.9 seed 0")."""
    if settings is None:
        return "not recorded"
    return f"{settings.method} {round(1 - settings.fraction, 4):g} seed {settings.seed}"


def percent(share: float | None) -> float | None:
    """A share as a percentage (the table shows it without decimals: 43%, not 43.27%)."""
    return None if share is None else 100 * share


def runs_table(infos: list[RunInfo]) -> pd.DataFrame:
    """One row per run, in the order of ``infos``; the name and the numbers people compare first, where they stay
    in view at presenter width, the long text (split, note) after them."""
    rows = []
    for r in infos:
        rec, c = r.record, r.record.config
        own, popular = rec.ranking, rec.floor

        def metric(row, name: str) -> float | None:
            return getattr(row, name) if row is not None else None
        rows.append({
            # an unnamed run goes by its id: a blank first cell, the one pinned beside the numbers, names nothing
            "name": r.name or r.run_id, "verdict": verdict(rec).mark, "val RMSE": rec.val_rmse,
            "NDCG@10": metric(own, "ndcg"), "dataset": rec.dataset.name,
            "status": run_status(rec), "created": datetime.fromtimestamp(rec.created).strftime("%d %b %H:%M"),
            "run": r.run_id, "split": split_text(rec.split), "lists by": registry.label(rec.ranking_kind),
            "P@10": metric(own, "precision"), "R@10": metric(own, "recall"), "coverage": percent(metric(own, "coverage")),
            "popularity NDCG@10": metric(popular, "ndcg"),
            "val MAE": rec.val_mae, "best epoch": rec.best_epoch, "epochs": len(rec.epochs),
            "dim": c.embedding_dim, "learning rate": c.learning_rate, "batch": c.batch_size,
            "weight decay": c.weight_decay, "dropout": c.dropout, "optimizer": c.optimizer,
            "seconds": rec.seconds, "note": r.note,
            "device": rec.where.device, "source": rec.source,
        })
    return pd.DataFrame(rows)


def mixed_note(chosen: list[RunInfo]) -> str | None:
    """A warning when the selected runs were trained on different datasets or splits (their numbers are not
    comparable), naming what differs; None when they share both."""
    datasets = {r.record.dataset.content_hash or r.record.dataset.name for r in chosen}
    splits = {split_text(r.record.split) for r in chosen}
    differ = [what for what, seen in (("datasets", datasets), ("splits", splits)) if len(seen) > 1]
    if not differ:
        return None
    names = sorted({r.record.dataset.name for r in chosen}) if len(datasets) > 1 else sorted(splits)
    return (f"The selected runs were trained on different {' and '.join(differ)} "
            f"({', '.join(md(n) for n in names)}): their RMSE and ranking numbers are not directly comparable.")


def filters_ui(infos: list[RunInfo]) -> tuple[list[RunInfo], str | None]:
    """The Dataset, Lists by and Group by widgets; the runs they keep (grouped runs together, newest first
    within a group) and the table column they group by."""
    kinds = {r.run_id: registry.label(r.record.ranking_kind) for r in infos}
    a, b, c = st.columns([2, 2, 1])
    datasets = a.multiselect("Dataset", sorted({r.record.dataset.name for r in infos}), key="runs_filter_dataset",
                             placeholder="All datasets")
    lists_by = b.multiselect("Lists by", sorted(set(kinds.values())), key="runs_filter_kind",
                             placeholder="All model kinds", help="The model kind that orders the run's lists.")
    group = GROUPS[c.selectbox("Group by", list(GROUPS), key="runs_group")]
    shown = [r for r in infos if (not datasets or r.record.dataset.name in datasets)
             and (not lists_by or kinds[r.run_id] in lists_by)]
    if group == "dataset":
        shown.sort(key=lambda r: r.record.dataset.name)  # stable: newest first within each dataset
    elif group == "lists by":
        shown.sort(key=lambda r: kinds[r.run_id])
    return shown, group


def group_summary(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per group: how many runs, the best validation RMSE and the best NDCG@10."""
    return (table.groupby(column, sort=False)
            .agg(runs=("run", "size"), best_val_rmse=("val RMSE", "min"), best_ndcg=("NDCG@10", "max"))
            .reset_index()
            .rename(columns={"best_val_rmse": "best val RMSE", "best_ndcg": "best NDCG@10"}))


def selected_runs(shown: list[RunInfo], rows: list[int]) -> list[RunInfo]:
    """The runs behind the table's selected row positions (positions in ``shown``, whatever the sort)."""
    return [shown[i] for i in rows if 0 <= i < len(shown)]


def table_key(shown: list[RunInfo]) -> str:
    """The runs table's widget key for these rows: another set of rows is another widget, with no selection."""
    digest = hashlib.sha1(" ".join(r.run_id for r in shown).encode()).hexdigest()[:10]
    return f"{TABLE_KEY}_{digest}"


def metric_panel(chosen: list[RunInfo]) -> None:
    """Any recorded metric of the selected runs in one chart, with its options."""
    names = charts.run_metric_names(chosen)
    if not names:
        st.caption("The selected runs recorded no curves or ranking metrics.")
        return
    a, b, c, d = st.columns([3, 2, 1, 2])
    metric = a.selectbox("Metric", names, key="runs_metric")
    x, log_y, smoothing = "step", False, 0.0
    if metric != charts.RANKING:
        unit = "step" if metric == charts.STEP_LOSS else "epoch"
        # one widget per unit: a radio whose labels change under the same key loses its choice
        x = b.radio("x axis", ["step", "seconds"], horizontal=True, key=f"runs_metric_x_{unit}",
                    format_func=lambda v: unit if v == "step" else "wall-clock seconds")
        log_y = c.toggle("log y", key="runs_metric_log")
    if metric == charts.STEP_LOSS:
        smoothing = d.slider("Smoothing", 0.0, 0.99, 0.6, 0.01, key="runs_smoothing",
                             help="Weight of the past in an exponential moving average: 0 draws the raw losses.")
    lacking = [r for r in chosen if not charts.has_metric(r, metric)]
    if lacking:
        why = " (saved before per-step losses were kept)" if metric == charts.STEP_LOSS else ""
        st.caption(f"Not recorded by {', '.join(md(r.title) for r in lacking)}{why}.")
    if len(lacking) < len(chosen):
        drawn, spreads = collapse(chosen) if metric == charts.RANKING else (chosen, {})  # repeats: one bar ± std
        st.plotly_chart(charts.run_metric_figure(drawn, metric, x=x, log_y=log_y, smoothing=smoothing,
                                                 spreads=spreads), key="runs_overlay")


def label_form(run: RunInfo) -> None:
    """Name the run and keep a note with it (stored in its folder; its files stay as they are)."""
    with st.form(f"runs_label_{run.run_id}", border=False):
        name = st.text_input("Name", value=run.name, key=f"runs_name_{run.run_id}",
                             help=f"Shown in the table, legends and the sidebar; at most {NAME_MAX} characters.")
        note = st.text_area("Note", value=run.note, key=f"runs_note_{run.run_id}", height=80,
                            help=f"What you tried and why; at most {NOTE_MAX:,} characters.")
        if st.form_submit_button("Save name and note"):
            try:
                saved = set_run_label(state.runs_dir(), run.run_id, name, note)
            except CFError as exc:
                st.error(md(exc))  # what was typed stays in the form
            else:
                state.relabel_active(saved.run_id, saved.label)
                state.flash(f"Saved the name and note of run {md(run.run_id)}.")
                st.rerun()


def _load_settings(run: RunInfo) -> None:
    load_settings(run.record.config, run.record.evaluation)
    state.flash(f"The Train form now holds the settings of run {md(run.title)}: open the Train page to train "
                "with them or change one.")


def single_run_panel(run: RunInfo) -> None:
    """One selected run: its name and note, ranking ladder and buckets, and activate, download and delete."""
    st.markdown(f"**{md(run.title)}**")
    label_form(run)
    ladder_panel(run.record.ladder, run.record.ranking_kind, "runs_ladder")
    group_ladder_panel(run)
    bucket_panel(run.record.buckets, run.record.evaluation.k, "runs_buckets")
    repeat_button(run, "runs_repeat")
    a, b, c = st.columns(3)
    a.button("Load these settings", key="runs_load_settings", icon=":material/tune:", on_click=_load_settings,
              args=(run,), help="Fill the Train page's form with this run's hyperparameters.")
    if a.button("Make active model", type="primary", key="runs_activate") and activate_run(run):
        state.flash(f"Run {md(run.title)} is now the active model.")
        st.rerun()
    model_file = Path(run.path) / "model.pt"
    b.download_button("Download checkpoint", data=model_file.read_bytes,  # read when clicked
                      file_name=f"cfstudio-{run.run_id}.pt", mime="application/octet-stream",
                      key="runs_download", disabled=not model_file.is_file(), on_click="ignore")
    confirm = c.checkbox("Confirm delete", key="runs_confirm_delete")
    if c.button("Delete run", disabled=not confirm, key="runs_delete"):
        delete_run(state.runs_dir(), run.run_id)
        state.flash(f"Deleted run {md(run.title)}.", "info")
        st.rerun()


def parcoords_panel(table: pd.DataFrame) -> None:
    """Parallel coordinates of the runs on one dataset: RMSEs on different data are not comparable."""
    finished = table.dropna(subset=["val RMSE"])
    counts = finished["dataset"].value_counts()
    if len(finished) < 2:
        return
    st.markdown("**Settings against validation RMSE**")
    dataset = counts.index[0]
    if len(counts) > 1:
        options = list(counts.index)  # most runs first
        kept = st.session_state.get(PARCOORDS_CHOICE)
        active = kept if kept in options else state.dataset().name
        # a keyed selectbox keeps the labels it was first drawn with in the browser ("(2 runs)" above a chart of
        # 3), so the key changes with the counts and the choice is carried over by hand
        signature = hashlib.sha1(repr(sorted(counts.items())).encode()).hexdigest()[:10]
        dataset = st.selectbox("Dataset", options, index=options.index(active) if active in options else 0,
                               key=f"{PARCOORDS_KEY}_{signature}", format_func=lambda d: f"{d} ({counts[d]} runs)",
                               help="One dataset at a time: an RMSE on other data is not comparable.")
        st.session_state[PARCOORDS_CHOICE] = dataset
    frame = finished[finished["dataset"] == dataset]
    varied = charts.varying_settings(frame, SETTINGS)
    if len(frame) < 2:
        st.caption(f"Only one run on {md(dataset)} has a validation RMSE: nothing to compare yet.")
    elif not varied:
        st.caption(f"The {len(frame)} runs on {md(dataset)} used the same settings (of "
                   f"{', '.join(SETTINGS)}): nothing to draw.")
    else:
        st.plotly_chart(charts.parallel_coordinates(frame, SETTINGS, title=f"{len(frame)} runs on {dataset}"),
                        key="runs_parcoords")


def runs_folder_ui() -> Path:
    """The Runs folder expander; the folder whose runs the page lists (a new one is used on the rerun)."""
    with st.expander(f"Runs folder: {md(state.runs_dir())}"):
        folder = st.text_input("Folder", value=str(state.runs_dir()), key="runs_folder_input")
        if folder != str(state.runs_dir()) and st.button("Use this folder", key="runs_use_folder"):
            st.session_state[state.RUNS_DIR] = folder
            st.rerun()
    return state.runs_dir()


def runs_section(runs: list[RunInfo]) -> None:
    """The filters, the runs table, warnings about unreadable runs, and the panels for the selected runs."""
    if not runs:
        st.info("No runs yet. Train a model on the Train page; every run is saved here and survives a restart.")
        return
    readable = [r for r in runs if r.readable]
    shown, group = filters_ui(readable)
    table = mark_groups(runs_table(shown), shown)
    count = f"{len(shown)} of {len(readable)} runs" if len(shown) != len(readable) else \
        f"{len(readable)} run{'s' if len(readable) != 1 else ''}"
    groups_table(shown)
    st.caption(f"{count} · click column headers to sort · select rows to compare")
    selection = None
    if shown:
        number, text = st.column_config.NumberColumn, st.column_config.TextColumn
        # "–" for what a run did not record (ranking metrics of older runs), not "None"; name, RMSE and NDCG
        # pinned and narrow enough that a 1000 px window shows all three beside the dataset
        selection = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="multi-row",
                                 key=table_key(shown), placeholder="–", column_config={
                                     "name": text(pinned=True, width="medium"),
                                     "val RMSE": number(format="%.3f", pinned=True, width="small",
                                                        help="Validation RMSE of the kept epoch: lower is better."),
                                     "NDCG@10": number(format="%.3f", pinned=True, width="small",
                                                       help=RANKING_COLUMNS["NDCG@10"]),
                                     "dataset": text(), "status": text(),
                                     "created": text(help="When the run started (this machine's local time)."),
                                     "split": text(help="How validation was held out: method, share of ratings "
                                                        "trained on, seed. Runs on different splits are not "
                                                        "comparable."),
                                     "note": text(width="medium"),
                                     "val MAE": number(format="%.3f"),
                                     "seconds": number(format="%.1f"), "learning rate": number(format="%g"),
                                     "weight decay": number(format="%g"),
                                     "verdict": st.column_config.TextColumn(pinned=True, help=VERDICT_HELP),
                                     **{name: number(format="%.3f", help=help_text)
                                        for name, help_text in RANKING_COLUMNS.items() if name != "NDCG@10"},
                                     "coverage": number(format="%.0f%%", width="small", help=METRIC_HELP["coverage"])})
        if group:
            st.dataframe(group_summary(table, group), hide_index=True, key="runs_groups", column_config={
                "best val RMSE": number(format="%.4f"), "best NDCG@10": number(format="%.3f")})
    else:
        st.info("No run matches the filters.")
    rows = selection.selection.rows if selection and selection.selection else []
    chosen = selected_runs(shown, rows)
    for r in runs:
        if not r.readable:
            st.warning(f"Run folder {md(r.run_id)} is unreadable ({md(r.error)}); it is skipped.")
        elif r.label_error:
            st.warning(f"Run {md(r.run_id)}: {md(r.label_error)}.")

    if chosen:
        note = mixed_note(chosen) if len(chosen) >= 2 else None
        if note:
            st.warning(note)
        metric_panel(chosen)
        if len(chosen) >= 2:
            settings_panel(chosen)
        if len(chosen) == 2:
            diff_panel(*chosen)
        if len(chosen) == 1:
            single_run_panel(chosen[0])
        else:
            st.caption("Select a single run to name, activate, download or delete it; two runs on the same data "
                       "to compare their lists.")
    else:
        st.caption("Select runs in the table to overlay their curves and metrics, or one run to name it.")
    parcoords_panel(table)


def keep_and_activate(source: bytes | Path, name: str, how: str) -> None:
    """Validate a checkpoint, keep it as a run and make it the active model; errors stay on the page."""
    def load():
        info, rec = import_checkpoint(state.runs_dir(), source, name, how)
        return rec, info.run_id, info.label
    run_id = activate(load)
    if run_id is not None:
        state.flash(f"Loaded {md(name)} as run {run_id}; it is the active model.")
        st.rerun()


def checkpoint_panel() -> None:
    """Load a checkpoint from an upload or a path on this machine; each error shows under its own button."""
    upload = st.file_uploader("A .pt checkpoint saved by CF Studio (never executed: only plain data is read)",
                              key="runs_upload")
    if upload is not None and st.button("Load uploaded checkpoint", key="runs_load_upload"):
        keep_and_activate(upload.getvalue(), upload.name, "uploaded")
    path_text = st.text_input("Or a checkpoint path on this machine", key="runs_path")
    if path_text and st.button("Load from path", key="runs_load_path"):
        keep_and_activate(Path(path_text).expanduser(), path_text, "loaded")


def sweep_form_ui() -> dict[str, list]:
    """The four setting lists of a sweep; the grid (TrainConfig field -> values) it trains every combination of."""
    st.caption("Train every combination one after another, on the active dataset and split, with the Train page's "
               "other settings.")
    (a, b), (c, d) = st.columns(2), st.columns(2)  # four abreast clipped the chosen values to "1." at 1000 px
    dims = a.multiselect("Embedding dimension", SWEEP_DIMS, default=[16, 50], key="sweep_dims")
    lrs = b.multiselect("Learning rate", LEARNING_RATES, default=[0.003, 0.01], key="sweep_lrs",
                        format_func=lambda v: f"{v:g}")
    batches = c.multiselect("Batch size", BATCH_SIZES, default=[1024], key="sweep_batches")
    wds = d.multiselect("Weight decay", SWEEP_WEIGHT_DECAYS, default=[0.05], key="sweep_wds")
    return {"embedding_dim": dims, "learning_rate": lrs, "batch_size": batches, "weight_decay": wds}


def sweep_buttons_ui(n_runs: int, sweep_running: bool) -> tuple[bool, bool]:
    """The Run sweep and Stop sweep buttons; whether each was clicked."""
    left, right = st.columns(2)
    job = st.session_state.get(state.JOB)
    start = left.button(f"Run sweep ({n_runs} runs)", type="primary", key="sweep_start",
                        disabled=sweep_running or n_runs == 0 or (job is not None and job.running))
    stop = right.button("Stop sweep", disabled=not sweep_running, key="sweep_stop")
    return start, stop


def start_sweep(grid: dict[str, list]) -> None:
    """Start a sweep of ``grid`` on the active split with the Train page's other settings (its defaults before
    the Train page was opened); an unusable split is shown as an error."""
    try:
        base = config_from_state()
    except (KeyError, CFError):
        base = TrainConfig()
    try:
        parts = state.current_split()
    except CFError as exc:
        st.error(md(exc))
        return
    state.start_sweep(parts, base, grid, evaluation_from_state())
    st.rerun()


def sweep_panel() -> None:
    """The sweep's progress, chart, best run and results table; redrawn by a fragment while it runs."""
    sweep: SweepJob | None = st.session_state.get(state.SWEEP)
    if sweep is None:
        return
    sweep.heartbeat()
    finished = len(sweep.results)
    if sweep.running:
        current = sweep.current
        detail = current.progress()[1] if current is not None else ""
        st.progress(finished / len(sweep.configs), text=f"run {finished + 1} of {len(sweep.configs)} · {detail}")
    else:
        st.caption(f"Sweep {sweep.status}: {sweep.message}.")
    if sweep.results:
        frame = pd.DataFrame([{"dim": r.config.embedding_dim, "learning rate": r.config.learning_rate,
                               "batch": r.config.batch_size, "weight decay": r.config.weight_decay,
                               "val RMSE": r.val_rmse, "NDCG@10": r.ndcg, "best epoch": r.best_epoch,
                               "seconds": round(r.seconds, 1), "status": r.status, "run": r.run_id}
                              for r in sweep.results])
        names = {"embedding_dim": "dim", "learning_rate": "learning rate", "batch_size": "batch", "weight_decay": "weight decay"}
        varied = [names[k] for k in sweep.grid_keys if frame[names[k]].nunique() > 1]
        figures = [charts.sweep_figure(frame, varied),  # the stars; and the lists, when they were judged
                   charts.sweep_figure(frame, varied, "NDCG@10", higher_is_better=True)]
        if figures[0] is None:
            st.caption("The chart appears when two runs have finished.")
        else:
            left, right = st.columns(2) if figures[1] is not None else (st.container(), None)
            left.plotly_chart(figures[0], key="sweep_chart")
            if right is not None:
                right.plotly_chart(figures[1], key="sweep_ndcg_chart")
        best = frame.loc[frame["val RMSE"].idxmin()] if frame["val RMSE"].notna().any() else None
        if best is not None:
            st.success(f"Best so far: dim {best['dim']}, learning rate {best['learning rate']:g}, batch {best['batch']}, "
                       f"weight decay {best['weight decay']:g} → validation RMSE {best['val RMSE']:.4f} (run {best['run']})")
        st.dataframe(frame, hide_index=True, column_config={"val RMSE": st.column_config.NumberColumn(format="%.4f"),
                                                            "NDCG@10": st.column_config.NumberColumn(format="%.4f"),
                                                            "learning rate": st.column_config.NumberColumn(format="%g")})
    if state.sweep_just_ended(sweep):
        st.rerun()


st.title("Runs")
state.show_flash()
repeat_progress_panel()
runs_section(list_runs(runs_folder_ui()))

st.subheader("Load a checkpoint")
checkpoint_panel()

st.subheader("Sweep")
sweep: SweepJob | None = st.session_state.get(state.SWEEP)
sweep_running = sweep is not None and sweep.running
grid = sweep_form_ui()
start, stop = sweep_buttons_ui(math.prod(len(values) for values in grid.values()), sweep_running)
if start:
    start_sweep(grid)
if stop:
    sweep.stop()
    st.rerun()
st.fragment(run_every=1.0 if sweep_running else None)(sweep_panel)()
