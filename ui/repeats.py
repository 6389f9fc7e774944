"""Repeats on other split seeds in the dashboard: the button that starts one, its progress, the grouped rows
of the Runs table and the ladder with error bars (the numbers come from ``cfcore.repeats``)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from cfcore.figures import charts
from cfcore.rankers import registry
from cfcore.repeats import METRICS, RepeatGroup, Spread, group_id, group_of, group_runs, next_seeds
from cfcore.runs import RunInfo, list_runs
from ui import state
from ui.jobs import RepeatJob
from ui.text import md

SEEDS = 3  # split seeds in a group once a run is repeated (the repeated run's own included)
MORE = 2  # split seeds a repeat of a group adds
WHAT_CHANGES = ("Only the split seed changes: the data, the split method and share, every hyperparameter (the "
                "training seed included) and the evaluation stay the run's own.")
SPREAD_NOTE = "mean ± sample standard deviation (n − 1) over the group's split seeds"


def repeat_button(run: RunInfo, key: str) -> None:
    """"Repeat with 3 split seeds" for a saved run (or "Add 2 more split seeds" for a group), with what it changes;
    a click starts the repeat in the background, an unusable run gets a message saying why."""
    record = run.record
    if record is None:
        return
    infos = list_runs(state.runs_dir())
    group = group_of(infos, run.run_id)
    members = group.members if group else (run,)
    count = SEEDS - 1 if group is None else MORE
    label = f"Repeat with {SEEDS} split seeds" if group is None else f"Add {MORE} more split seeds"
    job = st.session_state.get(state.REPEAT)
    busy = job is not None and job.running
    base = record.split.seed if record.split is not None else 0
    seeds = next_seeds(base, [s for s in (m.record.split.seed for m in members if m.record.split)], count)
    clicked = st.button(label, key=key, disabled=busy or record.split is None,
                        help=f"Train these settings again on split seeds {', '.join(map(str, seeds))}, one after "
                             f"another in the background, and show {SPREAD_NOTE}. {WHAT_CHANGES}")
    if record.split is None:
        st.caption("This run did not record its split, so it cannot be repeated on other split seeds.")
    elif busy:
        st.caption("A repeat is running; this button comes back when it ends.")
    else:
        st.caption(f"Trains these settings again on split seed{'s' if len(seeds) > 1 else ''} "
                   f"{', '.join(map(str, seeds))}, one after another in the background, and saves each run; "
                   "only the split seed changes.")
    if clicked:
        data = state.dataset_with_hash(record.dataset.content_hash)
        if data is None:
            st.error(f"The data of run {md(run.run_id)} ({md(record.dataset.name)}) is neither the active dataset nor "
                     "in the dataset store: make it active on the Data page, then repeat the run.")
            return
        state.start_repeat(data, record, seeds, group_id(run))
        st.rerun()


def repeat_progress() -> None:
    """The running (or just ended) repeat's progress; the page reruns once when it ends, to list the new runs."""
    job: RepeatJob | None = st.session_state.get(state.REPEAT)
    if job is None:
        return
    job.heartbeat()
    done = len(job.results)
    if job.running:
        current = job.current
        detail = current.progress()[1] if current is not None else ""
        st.progress(done / len(job.seeds), text=f"repeat {done + 1} of {len(job.seeds)} (split seed "
                                                 f"{job.seeds[min(done, len(job.seeds) - 1)]}) · {detail}")
    else:
        st.caption(f"Repeat {job.status}: {md(job.message)}.")
    if state.repeat_just_ended(job):
        st.rerun()


def repeat_progress_panel() -> None:
    """``repeat_progress`` in a fragment that redraws every second while the repeat runs."""
    job = st.session_state.get(state.REPEAT)
    st.fragment(run_every=1.0 if job is not None and job.running else None)(repeat_progress)()


def _cell(name: str, value: Spread) -> str:
    if name == "coverage":  # a share: as the runs table writes it
        return "–" if value.n == 0 else (f"{value.mean:.1%}" if value.n == 1 else
                                         f"{value.mean:.1%} ± {value.std:.1%}")
    return value.text(4 if name == "rmse" else 3)


def groups_frame(groups: list[RepeatGroup]) -> pd.DataFrame:
    """One row per group: its first run's name and settings, n, the split seeds, and each metric as mean ± std."""
    rows = []
    for g in groups:
        first, metrics = g.first, g.metrics()
        rows.append({"name": first.name, "dataset": first.record.dataset.name, "n": len(g.members),
                     **{METRICS[name]: _cell(name, value) for name, value in metrics.items()},
                     "split seeds": ", ".join("?" if s is None else str(s) for s in g.seeds),
                     "lists by": registry.label(first.record.ranking_kind), "dim": first.record.config.embedding_dim,
                     "repeated run": g.group})
    return pd.DataFrame(rows)


def groups_table(infos: list[RunInfo]) -> list[RepeatGroup]:
    """The Runs page's grouped rows: one per repeated setting, above its members (which stay listed below)."""
    groups = group_runs(infos)
    if groups:
        st.markdown("**Repeated on other split seeds**")
        st.dataframe(groups_frame(groups), hide_index=True, key="runs_repeat_groups", column_config={
            "name": st.column_config.TextColumn(pinned=True), "n": st.column_config.NumberColumn(
                help="Runs in the group: the repeated run and its repeats, one split seed each.")})
        st.caption(f"Each row is {SPREAD_NOTE}. {WHAT_CHANGES} Its runs are listed one by one in the table below; "
                   "select them to overlay their curves or compare their bars.")
    return groups


def collapse(chosen: list[RunInfo]) -> tuple[list[RunInfo], dict[str, dict[str, Spread]]]:
    """The selected runs with each selected group (two or more of its runs) drawn as its first selected run, and
    that run's own-list metrics as mean ± std over the selected members (for ``charts.ranking_bars``)."""
    spreads, dropped = {}, set()
    for g in group_runs(chosen):
        first, kind = g.first, g.first.record.ranking_kind
        spreads[first.run_id] = g.ladder().get(kind, {})
        dropped |= {m.run_id for m in g.members[1:]}
    return [r for r in chosen if r.run_id not in dropped], {k: v for k, v in spreads.items() if v}


def group_ladder_panel(run: RunInfo) -> None:
    """For a run in a group: the group's ladder, means with error bars, under the run's own."""
    group = group_of(list_runs(state.runs_dir()), run.run_id)
    if group is None:
        return
    k = run.record.evaluation.k
    st.plotly_chart(charts.ranking_ladder(run.record.ladder, k, group.ladder()), key="runs_repeat_ladder")
    st.caption(f"The {len(group.members)} runs of its group (split seeds "
               f"{', '.join('?' if s is None else str(s) for s in group.seeds)}): {SPREAD_NOTE}.")


def mark_groups(table: pd.DataFrame, shown: list[RunInfo]) -> pd.DataFrame:
    """The runs table (one row per run of ``shown``) with each run's split seed and, for a repeat group's runs,
    the group (the repeated run's id) beside the run id."""
    groups = {m.run_id: g.group for g in group_runs(shown) for m in g.members}
    if table.empty:
        return table
    at = list(table.columns).index("run") + 1 if "run" in table.columns else len(table.columns)
    table = table.copy()
    table.insert(at, "repeat of", [groups.get(r.run_id, "") for r in shown])
    table.insert(at + 1, "split seed", [r.record.split.seed if r.record.split else None for r in shown])
    return table


def repeat_result(info: RunInfo | None) -> None:
    """On the Train page's result: repeat the run shown (just saved, or the active one) on other split seeds,
    and the repeat's progress."""
    if info is None or not info.readable:
        return
    st.caption(f"One split is one draw: repeat the run to see how far its numbers move. {WHAT_CHANGES} "
               "The runs land on the Runs page as one group.")
    repeat_button(info, "train_repeat")
    repeat_progress_panel()
