"""Data page: choose the active dataset (built-in, upload, synthetic), inspect it, and set the split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from cfcore.data.dataset import Dataset
from cfcore.data.formats import SEPARATORS
from cfcore.data.items import items_note
from cfcore.data.preview import ROLES, RawPreview
from cfcore.datastore import list_saved, load_saved
from cfcore.errors import CFError, ColumnsNotFound
from cfcore.figures import charts
from cfcore.split import SPLIT_METHODS
from ui import state
from ui.data import builtin_dataset, synthetic_dataset, uploaded_dataset, uploaded_preview, uploaded_test_file
from ui.text import md

SOURCES = {"builtin": "Built-in MovieLens sample", "upload": "Upload a file", "saved": "Saved datasets",
           "synthetic": "Synthetic (known answer)"}
SEP_CHOICES = {"auto": "detect", **{sep: name for sep, name in SEPARATORS.items()}, "whitespace": "whitespace"}
SYNTHETIC_SIZES = [10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000, 10_000_000]
SPLIT_LABELS = {"random": "random ratings", "user": "per user", "time": "each user's latest"}


def source_ui() -> str:
    """The Source radio; the key of the chosen source (one of ``SOURCES``)."""
    return st.radio("Source", list(SOURCES), format_func=SOURCES.get, horizontal=True, key=state.DATA_SOURCE)


def source_panel(source: str, active: Dataset) -> None:
    """The panel of the chosen source, which can make another dataset active."""
    if source == "builtin":
        builtin_panel(active)
    elif source == "upload":
        upload_panel(active)
    elif source == "saved":
        saved_panel()
    else:
        synthetic_panel()


def builtin_panel(active: Dataset) -> None:
    """The built-in MovieLens sample, with a button to use it when another dataset is active."""
    st.caption("MovieLens ratings sample (GroupLens Research): 100,004 ratings, 671 users, 9,066 movies.")
    if active.name != "MovieLens sample" and st.button("Use the MovieLens sample", key="data_use_builtin"):
        state.set_dataset(builtin_dataset())
        state.flash("The MovieLens sample is now the active dataset.")
        st.rerun()


def upload_ui() -> tuple[UploadedFile | None, UploadedFile | None]:
    """The two uploaders; the ratings file and the optional item file (None: none uploaded)."""
    ratings_file = st.file_uploader("Ratings file (CSV, TSV, u.data, ratings.dat, Parquet, optionally .gz), or a "
                                    "ZIP archive such as GroupLens's ml-latest-small.zip (ratings and titles in one)",
                                    key="data_upload")
    items_file = st.file_uploader("Item metadata, optional (movies.csv, u.item, movies.dat)", key="data_items_upload")
    return ratings_file, items_file


def separator_ui(file_id: str) -> str | None:
    """The Separator select of one upload; the separator to read it with (None: detect it)."""
    sep_choice = st.selectbox("Separator", list(SEP_CHOICES), format_func=SEP_CHOICES.get, key=f"data_sep_{file_id}")
    return None if sep_choice == "auto" else sep_choice


def read_preview(ratings_file: UploadedFile, sep: str | None, active: Dataset) -> RawPreview | None:
    """The upload's first rows and column detection, or None after showing why the file cannot be read at all."""
    try:
        return uploaded_preview(f"{ratings_file.file_id}:{ratings_file.size}", ratings_file.getvalue(),
                                ratings_file.name, sep)
    except CFError as exc:
        st.error(md(exc))
        st.caption(f"The active dataset is still **{md(active.name)}**.")
        return None


def read_upload(ratings_file: UploadedFile, items_file: UploadedFile | None, sep: str | None,
                mapping: list[str] | None, active: Dataset) -> Dataset | None:
    """The uploaded files read with ``mapping`` (None: the detected one), or None after showing why not."""
    try:
        items_bytes = items_file.getvalue() if items_file is not None else None
        return uploaded_dataset(f"{ratings_file.file_id}:{ratings_file.size}", ratings_file.getvalue(),
                                ratings_file.name, sep, tuple(mapping) if mapping else None,
                                f"{items_file.file_id}:{items_file.size}" if items_file else None,
                                items_bytes, items_file.name if items_file else None)
    except ColumnsNotFound as exc:  # its own text names the CLI's --columns; here the choice is the dropdowns
        st.error(md(columns_not_found(ratings_file.name, exc.missing, exc.available)))
    except CFError as exc:
        st.error(md(f"{str(exc).rstrip('.')}. Pick other columns below, or fix the file and upload it again."))
    st.caption(f"The active dataset is still **{md(active.name)}**.")
    return None


def columns_not_found(name: str, missing: list[str], available: list[str]) -> str:
    """What to do when detection found no user, item or rating column, in the dashboard's words."""
    return (f"{name}: no {' or '.join(missing)} column among {', '.join(available)}. "
            "Pick the user, item and rating columns below and click Apply mapping.")


def column_mapping_ui(preview: RawPreview, current: dict[str, str], file_id: str,
                      needed: bool) -> list[str] | None:
    """The file's first rows as read and one select per role, preset to ``current``; the mapping to apply when
    Apply mapping was clicked (shown when ``needed`` or the choice differs from ``current``), else None."""
    with st.container(border=True):
        st.markdown("**Column mapping**: which column is the user, the item, the rating (and the time)"
                    + ("" if needed else "; change it if the detection was wrong"))
        st.caption("The file's first rows, as read" + ("" if preview.has_header else " (no header: columns "
                                                        "are named by position)"))
        st.dataframe(preview.rows.astype(str), hide_index=True, key=f"data_raw_{file_id}")
        chosen = []
        for col, role in zip(st.columns(4), ROLES):
            options = preview.available + (["(none)"] if role == "timestamp" else [])
            now = current.get(role, "(none)")
            chosen.append(col.selectbox(role, options, index=options.index(now) if now in options else 0,
                                        key=f"data_map_{role}_{file_id}"))
        mapping = [c for c in chosen if c != "(none)"]
        repeated = sorted({c for c in mapping if mapping.count(c) > 1})
        if repeated:
            roles = [r for r, c in zip(ROLES, chosen) if c == repeated[0]]
            st.warning(md(f"{repeated[0]!r} is chosen for {' and '.join(roles)}: pick a different column for each."))
            return None
        applied = [current[r] for r in ROLES if r in current]
        if (needed or mapping != applied) and st.button("Apply mapping", type="primary" if needed else "secondary",
                                                         key="data_apply_mapping"):
            return mapping
    return None


def upload_panel(active: Dataset) -> None:
    """Upload a ratings file (and item metadata), check how it was read, map its columns, and use it.

    The column choice is offered whenever detection failed or is unsure, and after a mapping that still
    does not read, so the person can always fix it here rather than in the file."""
    ratings_file, items_file = upload_ui()
    if ratings_file is None:
        return
    file_id = ratings_file.file_id
    sep = separator_ui(file_id)
    preview = read_preview(ratings_file, sep, active)
    if preview is None:
        return
    override = state.column_override(file_id)
    if override is None and preview.failed:
        st.error(md(columns_not_found(ratings_file.name, preview.missing, preview.available)))
        st.caption(f"The active dataset is still **{md(active.name)}**.")
        apply_mapping(column_mapping_ui(preview, preview.guess(), file_id, needed=True), file_id)
        return
    if override is None and preview.doubt:
        st.warning(md(f"{preview.doubt} in the column mapping below."))
    candidate = read_upload(ratings_file, items_file, sep, override, active)
    if candidate is None:
        tried = dict(zip(ROLES, override)) if override else preview.guess()
        apply_mapping(column_mapping_ui(preview, tried, file_id, needed=True), file_id)
        return
    report = candidate.report
    titles = items_note(report)  # whether the titles were joined (an item file is read after the ratings)
    st.success(f"Read {len(candidate.ratings):,} ratings as {report.format}."
               + (f" {md(titles[0].upper() + titles[1:])}." if titles else ""))
    apply_mapping(column_mapping_ui(preview, report.columns, file_id, needed=False), file_id)
    st.markdown("**Preview** (as mapped)")
    st.dataframe(candidate.ratings.to_frame().head(8), hide_index=True)
    with st.expander("Validation report", expanded=bool(report.dropped or report.n_duplicates or report.warnings)):
        for line in report.lines():
            st.text(line)
    if st.button("Use this dataset", type="primary", key="data_use_upload"):
        state.set_dataset(candidate)
        state.flash(f"{md(candidate.name)} is now the active dataset.")
        st.rerun()


def apply_mapping(mapping: list[str] | None, file_id: str) -> None:
    """Keep the person's column choice for this upload and read it again with it (nothing when None)."""
    if mapping is not None:
        state.set_column_override(file_id, mapping)
        st.rerun()


def saved_panel() -> None:
    """Every dataset kept beside the runs, one line each with a Use button."""
    saved = list_saved(state.runs_dir())
    st.caption("Every dataset you uploaded or generated is kept beside the runs (as Parquet, named by a hash of its "
               "content), so it survives reloads and restarts and a saved run can find its data again.")
    if not saved:
        st.info("No saved datasets yet: upload a file or generate synthetic data, and it will be listed here.")
    for item in saved:
        if not item.readable:
            st.warning(f"Saved dataset folder {md(item.path.name)} cannot be read ({md(item.error)}); it is skipped.")
            continue
        a, b = st.columns([4, 1])
        current = item.content_hash == state.dataset_hash()
        a.markdown(f"**{md(item.name)}** · {item.n_ratings:,} ratings · {item.n_users:,} users · {item.n_items:,} "
                   f"items · saved {pd.Timestamp(item.created, unit='s'):%Y-%m-%d %H:%M} · `{item.content_hash[:12]}`"
                   + (" · active" if current else ""))
        if b.button("Use", key=f"data_use_saved_{item.content_hash[:16]}", disabled=current):
            try:
                state.set_dataset(load_saved(item), save=False)
            except CFError as exc:
                st.error(md(exc))
            else:
                state.flash(f"{md(item.name)} is now the active dataset.")
                st.rerun()


def synthetic_ui() -> tuple[int, float, int] | None:
    """The size, noise and seed widgets; those settings when Generate and use was clicked, else None."""
    a, b, c = st.columns(3)
    n_ratings = a.select_slider("Ratings", SYNTHETIC_SIZES, value=100_000, key="data_synth_n",
                                format_func=lambda v: f"{v:,}")
    noise = b.slider("Noise sigma (the best achievable RMSE)", 0.0, 1.5, 0.5, 0.05, key="data_synth_noise")
    seed = c.number_input("Seed", 0, 10_000, 0, key="data_synth_seed")
    if st.button("Generate and use", type="primary", key="data_use_synth"):
        return int(n_ratings), float(noise), int(seed)
    return None


def synthetic_panel() -> None:
    """Generate ratings of a planted model whose best achievable RMSE is known, and use them."""
    settings = synthetic_ui()
    if settings is None:
        return
    try:
        state.set_dataset(synthetic_dataset(*settings))
    except (CFError, ValueError) as exc:
        st.error(md(exc))
    else:
        state.flash(f"Synthetic data with {settings[0]:,} ratings is now the active dataset.")
        st.rerun()


def dataset_panel(data: Dataset) -> None:
    """The active dataset's size, credit and load report, and its rating, time and long-tail charts."""
    ratings = data.ratings
    st.subheader(f"Active dataset: {md(data.name)}")
    m = st.columns(5)
    m[0].metric("Ratings", f"{len(ratings):,}")
    m[1].metric("Users", f"{ratings.n_users:,}")
    m[2].metric("Movies" if data.credit else "Items", f"{ratings.n_items:,}")
    m[3].metric("Density", f"{ratings.density:.2%}")
    m[4].metric("Rating scale", f"{ratings.scale.min:.3g}–{ratings.scale.max:.3g}")
    if data.credit:
        st.caption(data.credit)
    st.caption(" · ".join(md(line) for line in data.report.lines()))

    left, right = st.columns(2)
    left.plotly_chart(charts.rating_histogram(ratings.rating), key="chart_hist")
    if ratings.timestamp is not None:
        right.plotly_chart(charts.ratings_over_time(ratings.timestamp), key="chart_time")
    left.plotly_chart(charts.long_tail(ratings.user_counts(), "user"), key="chart_users")
    right.plotly_chart(charts.long_tail(ratings.item_counts(), "item"), key="chart_items")


def split_ui(settings: state.SplitSettings) -> state.SplitSettings:
    """The Method, Validation fraction and Split seed widgets, preset to ``settings``; the settings they hold."""
    a, b, c = st.columns(3)
    method = a.radio("Method", SPLIT_METHODS, index=SPLIT_METHODS.index(settings.method), key="data_split_method",
                     format_func=SPLIT_LABELS.get, horizontal=True)
    fraction = b.slider("Validation fraction", 0.05, 0.5, settings.fraction, 0.05, key="data_split_fraction")
    seed = c.number_input("Split seed", 0, 1_000_000, settings.seed, key="data_split_seed")
    return state.SplitSettings(method, float(fraction), int(seed))


def test_file_ui() -> UploadedFile | None:
    """The test file's uploader; the file it holds (None: none)."""
    return st.file_uploader("Test ratings, optional: a separate file of held-out ratings, read with the same "
                            "columns as the active dataset; a training run then reports its test RMSE",
                            key="data_test_upload")


def test_file_panel(active: Dataset) -> None:
    """Read an uploaded test file for the active dataset, or show the one given (restored after a reload)."""
    upload, given = test_file_ui(), state.given_test()
    if upload is not None and (given is None or given.upload_id != upload.file_id):
        try:
            test = uploaded_test_file(f"{upload.file_id}:{upload.size}", upload.getvalue(), upload.name,
                                      state.dataset_hash(), active.report)
        except CFError as exc:
            st.error(md(f"{str(exc).rstrip('.')}. The test file is not used; fix it and upload it again."))
            return
        state.set_given_test(test, upload.file_id)
    elif upload is None and given is not None and given.upload_id:
        state.set_given_test(None)  # the person removed the file from the uploader
    elif given is not None and upload is None:
        a, b = st.columns([4, 1])
        a.info(md(f"Test ratings from {given.data.name} (kept from before the reload)."))
        if b.button("Remove the test file", key="data_test_remove"):
            state.set_given_test(None)
            st.rerun()


def split_panel() -> None:
    """Ratings, users and items on each side of the active split (and the test file's), or why it cannot be made."""
    try:
        parts, test = state.split_for_training()
    except CFError as exc:
        st.error(md(exc))
        return
    summary = parts.summary()
    rows = {"train": (summary["train_ratings"], summary["train_users"], summary["train_items"]),
            "validation": (summary["val_ratings"], summary["val_users"], summary["val_items"])}
    if test is not None:
        rows["test"] = (len(test), test.n_rating_users, test.n_rating_items)
    table = pd.DataFrame.from_dict(rows, orient="index", columns=["ratings", "users", "items"])
    st.dataframe(table, width="content")
    st.caption(f"{summary['val_users_unseen_in_train']} validation users and {summary['val_items_unseen_in_train']} "
               "validation items have no rating in train; the model predicts them from biases and the mean.")
    if test is not None:
        train_users, train_items = np.unique(parts.train.user_idx), np.unique(parts.train.item_idx)
        unseen = ~np.isin(test.user_idx, train_users) | ~np.isin(test.item_idx, train_items)
        st.caption(md(f"The test ratings come from the file {state.given_test().data.name}, not from the split: "
                      f"{len(test):,} ratings, {int(unseen.sum()):,} of them with a user or item that has no "
                      "rating in train. A training run reports its RMSE on them as test RMSE."))


st.title("Data")
state.show_flash()
active = state.dataset()
source_panel(source_ui(), active)

st.divider()
dataset_panel(state.dataset())

st.subheader("Train / validation split")
state.set_split_settings(split_ui(state.split_settings()))
test_file_panel(state.dataset())
split_panel()
st.page_link("views/train.py", label="Next: train a model", icon=":material/arrow_forward:")
