"""Runs page: every saved run, compared, activated, downloaded, deleted; checkpoints loaded; sweeps."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from cfcore.errors import CFError
from cfcore.runs import delete_run, import_checkpoint, list_runs, load_run
from cfcore.scorers import KIND_LABELS
from ui import charts, state
from ui.buckets import bucket_panel
from ui.compare import diff_panel, settings_panel
from ui.forms import BATCH_SIZES, LEARNING_RATES, config_from_state
from ui.jobs import SweepJob
from ui.ranking import METRIC_HELP, ladder_panel
from ui.text import md

RANKING_COLUMNS = {"NDCG@10": METRIC_HELP["ndcg"], "P@10": METRIC_HELP["precision"], "R@10": METRIC_HELP["recall"],
                   "popularity NDCG@10": "NDCG@10 of the most-popular ranking on the same split: the floor to beat."}



def activate(load, message) -> None:
    """Make a model active: ``load()`` gives (recommender, run id, label); a CFError stays on the page
    and the model that was active stays active."""
    try:
        rec, run_id, label = load()
    except CFError as exc:
        st.error(md(exc))
        return
    state.set_active_model(rec, run_id, label)
    state.flash(message(run_id))
    st.rerun()


st.title("Runs")
state.show_flash()

with st.expander(f"Runs folder: {md(state.runs_dir())}"):
    folder = st.text_input("Folder", value=str(state.runs_dir()), key="runs_folder_input")
    if folder != str(state.runs_dir()) and st.button("Use this folder", key="runs_use_folder"):
        st.session_state[state.RUNS_DIR] = folder
        st.rerun()

runs = list_runs(state.runs_dir())
readable = [r for r in runs if r.readable]
broken = [r for r in runs if not r.readable]


def runs_table(infos) -> pd.DataFrame:
    rows = []
    for r in infos:
        c, m = r.config, r.metrics
        own = m.get("ranking") or {}
        popular = (m.get("ranking_ladder") or {}).get("popularity") or {}
        rows.append({
            "run": r.run_id, "lists by": KIND_LABELS.get(m.get("ranking_model") or c.get("ranking_model") or "mf"),
            "NDCG@10": own.get("ndcg"), "P@10": own.get("precision"), "R@10": own.get("recall"),
            "coverage": own.get("coverage"), "popularity NDCG@10": popular.get("ndcg"),
            "val RMSE": m.get("val_rmse"), "val MAE": m.get("val_mae"),
            "best epoch": m.get("best_epoch"), "epochs": len(r.history), "dim": c.get("embedding_dim"),
            "learning rate": c.get("learning_rate"), "batch": c.get("batch_size"),
            "weight decay": c.get("weight_decay"), "optimizer": c.get("optimizer"),
            "seconds": m.get("seconds"), "dataset": r.dataset,
            "created": pd.Timestamp(r.created, unit="s").strftime("%Y-%m-%d %H:%M"), "device": m.get("device"),
            "source": r.source,
        })
    return pd.DataFrame(rows)


if not runs:
    st.info("No runs yet. Train a model on the Train page; every run is saved here and survives a restart.")
else:
    table = runs_table(readable)
    st.caption(f"{len(readable)} run{'s' if len(readable) != 1 else ''} · click column headers to sort · select "
               "rows to compare")
    selection = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="multi-row", key="runs_table",
                             column_config={"val RMSE": st.column_config.NumberColumn(format="%.4f"),
                                            "val MAE": st.column_config.NumberColumn(format="%.4f"),
                                            "seconds": st.column_config.NumberColumn(format="%.1f"),
                                            "learning rate": st.column_config.NumberColumn(format="%g"),
                                            **{name: st.column_config.NumberColumn(format="%.3f", help=help_text)
                                               for name, help_text in RANKING_COLUMNS.items()},
                                            "coverage": st.column_config.NumberColumn(format="percent",
                                                                                      help=METRIC_HELP["coverage"])})
    chosen = [readable[i] for i in selection.selection.rows] if selection and selection.selection.rows else []
    for r in broken:
        st.warning(f"Run folder {md(r.run_id)} is unreadable ({md(r.error)}); it is skipped.")

    if chosen:
        st.plotly_chart(charts.runs_overlay(chosen), key="runs_overlay")
        if len(chosen) >= 2:
            settings_panel(chosen)
        if len(chosen) == 2:
            diff_panel(*chosen)
        if len(chosen) == 1:
            run = chosen[0]
            ladder_panel(run.metrics.get("ranking_ladder") or {}, run.metrics.get("ranking_model") or "mf",
                         "runs_ladder")
            bucket_panel(run.metrics.get("error_by_bucket"), run.metrics.get("ranking_k") or 10, "runs_buckets")
            a, b, c = st.columns(3)
            if a.button("Make active model", type="primary", key="runs_activate"):
                activate(lambda: (load_run(state.runs_dir(), run.run_id), run.run_id, run.label),
                         lambda run_id: f"Run {run_id} is now the active model.")
            model_file = Path(run.path) / "model.pt"
            b.download_button("Download checkpoint", data=model_file.read_bytes,  # read when clicked
                              file_name=f"cfstudio-{run.run_id}.pt", mime="application/octet-stream",
                              key="runs_download", disabled=not model_file.is_file(), on_click="ignore")
            confirm = c.checkbox("Confirm delete", key="runs_confirm_delete")
            if c.button("Delete run", disabled=not confirm, key="runs_delete"):
                delete_run(state.runs_dir(), run.run_id)
                state.flash(f"Deleted run {run.run_id}.", "info")
                st.rerun()
        else:
            st.caption("Select a single run to activate, download or delete it; two runs on the same data to "
                       "compare their lists.")
    else:
        st.caption("Select runs in the table to overlay their validation curves.")

    if len(table) >= 2:
        st.plotly_chart(charts.parallel_coordinates(table, ["dim", "learning rate", "batch", "weight decay"]),
                        key="runs_parcoords")

st.subheader("Load a checkpoint")


def keep_and_activate(source: bytes | Path, name: str, how: str) -> None:
    """Validate a checkpoint, keep it as a run and make it the active model; errors stay on the page."""
    def load():
        info, rec = import_checkpoint(state.runs_dir(), source, name, how)
        return rec, info.run_id, info.label
    activate(load, lambda run_id: f"Loaded {md(name)} as run {run_id}; it is the active model.")


upload = st.file_uploader("A .pt checkpoint saved by CF Studio (never executed: only plain data is read)",
                          key="runs_upload")
if upload is not None and st.button("Load uploaded checkpoint", key="runs_load_upload"):
    keep_and_activate(upload.getvalue(), upload.name, "uploaded")
path_text = st.text_input("Or a checkpoint path on this machine", key="runs_path")
if path_text and st.button("Load from path", key="runs_load_path"):
    keep_and_activate(Path(path_text).expanduser(), path_text, "loaded")

st.subheader("Sweep")
sweep: SweepJob | None = st.session_state.get(state.SWEEP)
sweep_running = sweep is not None and sweep.running
st.caption("Train every combination one after another, on the active dataset and split, with the Train page's "
           "other settings.")
a, b, c, d = st.columns(4)
dims = a.multiselect("Embedding dimension", [4, 8, 16, 32, 50, 64, 100, 128, 200], default=[16, 50], key="sweep_dims")
lrs = b.multiselect("Learning rate", LEARNING_RATES, default=[0.003, 0.01], key="sweep_lrs", format_func=lambda v: f"{v:g}")
batches = c.multiselect("Batch size", BATCH_SIZES, default=[1024], key="sweep_batches")
wds = d.multiselect("Weight decay", [0.0, 0.001, 0.01, 0.02, 0.05, 0.1, 0.2], default=[0.05], key="sweep_wds")
grid = {"embedding_dim": dims, "learning_rate": lrs, "batch_size": batches, "weight_decay": wds}
n_runs = 1
for values in grid.values():
    n_runs *= len(values)
left, right = st.columns(2)
try:
    base = config_from_state()
except (KeyError, CFError):
    from cfcore.config import TrainConfig

    base = TrainConfig()
if left.button(f"Run sweep ({n_runs} runs)", type="primary", disabled=sweep_running or n_runs == 0 or
               (st.session_state.get(state.JOB) is not None and st.session_state[state.JOB].running), key="sweep_start"):
    try:
        parts = state.current_split()
    except CFError as exc:
        st.error(md(exc))
    else:
        state.start_sweep(parts, base, grid)
        st.rerun()
if right.button("Stop sweep", disabled=not sweep_running, key="sweep_stop"):
    sweep.stop()
    st.rerun()


def sweep_panel() -> None:
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
                               "val RMSE": r.val_rmse, "best epoch": r.best_epoch, "seconds": round(r.seconds, 1),
                               "status": r.status, "run": r.run_id} for r in sweep.results])
        names = {"embedding_dim": "dim", "learning_rate": "learning rate", "batch_size": "batch", "weight_decay": "weight decay"}
        varied = [names[k] for k in sweep.grid_keys if frame[names[k]].nunique() > 1]
        st.plotly_chart(charts.sweep_figure(frame, varied), key="sweep_chart")
        best = frame.loc[frame["val RMSE"].idxmin()] if frame["val RMSE"].notna().any() else None
        if best is not None:
            st.success(f"Best so far: dim {best['dim']}, learning rate {best['learning rate']:g}, batch {best['batch']}, "
                       f"weight decay {best['weight decay']:g} → validation RMSE {best['val RMSE']:.4f} (run {best['run']})")
        st.dataframe(frame, hide_index=True)
    if state.sweep_just_ended(sweep):
        st.rerun()


st.fragment(run_every=1.0 if sweep_running else None)(sweep_panel)()
