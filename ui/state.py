"""Per-session state: every session-state key spelled once, with typed getters and setters.

A key lives here when code reads or writes it through ``st.session_state`` (or another page does); a
widget's own ``key=`` that nothing reads back (a button's, a chart's) stays beside its widget as its name."""

from __future__ import annotations

import os
import weakref
from dataclasses import dataclass, replace
from pathlib import Path

import streamlit as st

from cfcore.data.dataset import Dataset
from cfcore.datastore import content_hash, find_saved, load_saved, save_dataset
from cfcore.errors import CFError
from cfcore.launch import registry as launchers
from cfcore.queries import Recommender
from cfcore.ratings import Ratings
from cfcore.records import Evaluation
from cfcore.runs import RunInfo, load_run, read_run, run_label, run_path
from cfcore.split import Split, SplitSettings, with_test_set
from ui.data import builtin_dataset
from ui.jobs import RepeatJob, SweepJob, TrainingJob, find_job

DATASET = "cf_dataset"
DATASET_HASH = "cf_dataset_hash"  # content hash of the active dataset (computed once when it is set)
URL_RESTORED = "cf_url_restored"  # the URL's run/dataset/job were read once for this session
REC_USER = "rec_user"  # the Recommend page's chosen user (a widget key, mirrored in the URL)
SIM_MOVIE = "sim_movie"  # the Similar tab's chosen movie (item index; the URL carries its item_id)
SIM_QUERY = "sim_query"
BUILTIN_PARAM = "movielens"  # ?data= value of the built-in sample
SPLIT_SETTINGS = "cf_split_settings"
SPLIT_CACHE = "cf_split_cache"
ACTIVE_MODEL = "cf_active_model"
PREVIOUS_ACTIVE = "cf_previous_active"  # (run id, short name) of the run that was active before the current one
JOB = "cf_job"
JOB_ABSORBED = "cf_job_absorbed"
SWEEP = "cf_sweep"
TSNE_JOB = "cf_tsne_job"  # the t-SNE the Embeddings page is waiting for (one per session)
SWEEP_ABSORBED = "cf_sweep_absorbed"  # the page reran once when the current sweep ended
REPEAT = "cf_repeat"  # this session's repeat of a run on other split seeds (cfcore/repeats.py)
REPEAT_ABSORBED = "cf_repeat_absorbed"  # the page reran once when the current repeat ended
RUNS_DIR = "cf_runs_dir"
FLASH = "cf_flash"

DEMO = "cf_demo"  # the home page's one-click demo is training: land on Recommend when it ends
DATA_SOURCE = "data_source"  # the Data page's source radio (built-in, upload, saved, synthetic)
FORM_PREFIX = "train_"  # the Train form's widgets: train_<TrainConfig field> (and train_preset)
PRESET = FORM_PREFIX + "preset"
FORM_VALUES = "cf_form_values"  # the Train form's values that differ from the defaults (form key -> value): kept
#                                 apart from the widgets, whose state Streamlit drops on another page, and in the URL


def form_key(field: str) -> str:
    """The session key of the Train form's widget for a TrainConfig field (or a form-only value)."""
    return FORM_PREFIX + field


def column_override(file_id: str) -> list[str] | None:
    """The column mapping the person applied to an uploaded file (None: the detected one)."""
    return st.session_state.get(f"data_columns_{file_id}")


def set_column_override(file_id: str, mapping: list[str]) -> None:
    st.session_state[f"data_columns_{file_id}"] = mapping

DEFAULT_RUNS_DIR = os.environ.get("CF_STUDIO_RUNS_DIR", "runs")


@dataclass(frozen=True)
class ActiveModel:
    """The model the Recommend and Embeddings pages use, where it came from, and its validation ratings."""

    recommender: Recommender
    run_id: str | None
    label: str
    val: Ratings | None = None  # held-out ratings of the split it was trained on, when known


def dataset() -> Dataset:
    """The active dataset; the built-in MovieLens sample until the user picks another."""
    if DATASET not in st.session_state:
        st.session_state[DATASET] = builtin_dataset()
    return st.session_state[DATASET]


def set_dataset(new: Dataset, save: bool = True) -> None:
    """Make ``new`` active; anything but the built-in sample is kept in the dataset store (beside the
    runs) so a reload, a restart or a shared link finds it again."""
    digest = content_hash(new.ratings)
    if save and not _is_builtin(new):
        try:
            save_dataset(runs_dir(), new, digest)
        except (OSError, CFError) as exc:
            flash(f"{new.name} is active but could not be saved for later ({exc}); a reload will forget it.",
                  "warning")
    st.session_state[DATASET] = new
    st.session_state[DATASET_HASH] = digest
    st.session_state.pop(SPLIT_CACHE, None)


def dataset_hash() -> str:
    if DATASET_HASH not in st.session_state:
        st.session_state[DATASET_HASH] = content_hash(dataset().ratings)
    return st.session_state[DATASET_HASH]


def _is_builtin(data: Dataset) -> bool:
    return data is builtin_dataset()


def split_settings() -> SplitSettings:
    return st.session_state.get(SPLIT_SETTINGS, SplitSettings())


def set_split_settings(settings: SplitSettings) -> None:
    st.session_state[SPLIT_SETTINGS] = settings


def current_split() -> Split:
    """The active dataset split with the current settings, computed once per (dataset, settings)."""
    data, settings = dataset(), split_settings()
    cached = st.session_state.get(SPLIT_CACHE)  # (weak reference to the dataset, settings, split)
    if cached is None or cached[0]() is not data or cached[1] != settings:  # identity, not a reusable id()
        parts = settings.apply(data.ratings)
        st.session_state[SPLIT_CACHE] = (weakref.ref(data), settings, parts)
        return parts
    return cached[2]


# -- a separate test file (the "given test file" split): its ratings, kept with the dataset they were read for --

GIVEN_TEST = "cf_given_test"


@dataclass(frozen=True)
class GivenTest:
    """A test file's ratings, for the active dataset it was read like; saved in the dataset store so a reload
    (the URL's ?test=) finds it again."""

    data: Dataset  # the test ratings as read, on their own id maps
    content_hash: str
    for_dataset: str  # content hash of the dataset it belongs to: another active dataset ignores it
    upload_id: str = ""  # the uploader's file id it came from ("" when restored from the URL)


def given_test() -> GivenTest | None:
    """The test file given for the active dataset, if any."""
    given = st.session_state.get(GIVEN_TEST)
    return given if given is not None and given.for_dataset == dataset_hash() else None


def set_given_test(data: Dataset | None, upload_id: str = "", save: bool = True) -> None:
    """Give ``data`` as the active dataset's test ratings (None: none); saved beside the runs for a reload."""
    if data is None:
        st.session_state.pop(GIVEN_TEST, None)
        return
    digest = content_hash(data.ratings)
    if save:
        try:
            save_dataset(runs_dir(), data, digest)
        except (OSError, CFError) as exc:
            flash(f"The test file {data.name} is used but could not be saved for later ({exc}); after a reload "
                  "it needs uploading again.", "warning")
    st.session_state[GIVEN_TEST] = GivenTest(data, digest, dataset_hash(), upload_id)


def split_for_training() -> tuple[Split, Ratings | None]:
    """The current split and the given test file's ratings on shared id maps (the split alone when none)."""
    parts, given = current_split(), given_test()
    if given is None:
        return parts, None
    return with_test_set(parts, given.data.ratings)


def active_model() -> ActiveModel | None:
    return st.session_state.get(ACTIVE_MODEL)


def set_active_model(rec: Recommender, run_id: str | None, label: str, val: Ratings | None = None) -> None:
    """Make ``rec`` the active model; a saved run it replaces is remembered as the previous one (a way back)."""
    old = st.session_state.get(ACTIVE_MODEL)
    if old is not None and old.run_id and old.run_id != run_id:
        record = old.recommender.record  # a button names it: the person's name for it, else its id
        st.session_state[PREVIOUS_ACTIVE] = (old.run_id, record.name if record is not None and record.name
                                             else old.run_id)
    st.session_state[ACTIVE_MODEL] = ActiveModel(rec, run_id, label, val if val is not None else _validation_for(rec))


def previous_active() -> tuple[str, str] | None:
    """(run id, short name) of the saved run that was active before the current one, if any."""
    return st.session_state.get(PREVIOUS_ACTIVE)


def relabel_active(run_id: str, label: str) -> None:
    """A renamed run's new label, in the sidebar at once when that run is the active model."""
    active = st.session_state.get(ACTIVE_MODEL)
    if active is not None and active.run_id == run_id:
        st.session_state[ACTIVE_MODEL] = replace(active, label=label)


def _validation_for(rec: Recommender) -> Ratings | None:
    """Rebuild a saved model's validation ratings from a dataset with the content hash it was trained
    on: the active one, or one in the dataset store."""
    settings = rec.record.split if rec.record is not None else None
    wanted = rec.record.dataset.content_hash if rec.record is not None else ""
    if settings is None or not wanted:
        return None
    data = dataset() if dataset_hash() == wanted else None
    if data is None:
        saved = find_saved(runs_dir(), wanted)
        try:
            data = load_saved(saved) if saved is not None else None
        except CFError:
            return None
    if data is None or data.ratings.users != rec.users or data.ratings.items != rec.items:
        return None
    try:
        return settings.apply(data.ratings).val
    except (CFError, KeyError, TypeError, ValueError):
        return None


# -- the URL: what a reload, a restart or a shared link reopens ----------------------------------


def restore_from_url() -> None:
    """Once per session: the dataset (?data=), active run (?run=) and running job (?job=) the URL names.

    Problems (a deleted run, a damaged saved dataset) become a message; the rest still loads.
    """
    if st.session_state.get(URL_RESTORED):
        return
    st.session_state[URL_RESTORED] = True
    params = st.query_params
    wanted = params.get("data")
    if wanted and DATASET not in st.session_state and wanted != BUILTIN_PARAM:
        saved = find_saved(runs_dir(), wanted)
        try:
            if saved is None:
                raise CFError(f"no saved dataset has content hash {wanted!r} in {runs_dir()}; it may have been "
                              "deleted. Upload the file again on the Data page")
            set_dataset(load_saved(saved), save=False)
        except CFError as exc:
            flash(f"The link's dataset could not be restored: {exc}. Showing the MovieLens sample.", "warning")
    wanted_test = params.get("test")
    if wanted_test and GIVEN_TEST not in st.session_state:
        saved = find_saved(runs_dir(), wanted_test)
        try:
            if saved is None:
                raise CFError(f"no saved test file has content hash {wanted_test!r}")
            set_given_test(load_saved(saved), save=False)
        except CFError as exc:
            flash(f"The link's test file could not be restored ({exc}); upload it again on the Data page.",
                  "warning")
    job = find_job(params.get("job", ""))
    if job is not None and JOB not in st.session_state:
        st.session_state[JOB] = job
        job.heartbeat()
    elif params.get("job") and job is None:  # sync_url drops the dead id from the URL on this run
        flash("The link named a training job that this server no longer has: it finished or was stopped, or "
              "the server restarted since. A run it saved is on the Runs page.", "info")
    run_id = params.get("run")
    if run_id and ACTIVE_MODEL not in st.session_state:
        try:
            rec = load_run(runs_dir(), run_id)
        except CFError as exc:
            flash(f"The link's run could not be restored: {exc}", "warning")
        else:
            set_active_model(rec, run_id, run_label(run_id, rec.record))
    for key, param in ((REC_USER, "user"), (SIM_MOVIE, "movie")):
        if params.get(param) and key not in st.session_state:
            st.session_state[f"{key}_from_url"] = params.get(param)
    previous = params.get("previous")
    if previous and PREVIOUS_ACTIVE not in st.session_state:
        info = run_info(previous)  # the person's name for it, as set_active_model keeps it
        st.session_state[PREVIOUS_ACTIVE] = (previous, (info.name if info else "") or previous)
    form = {name: value for name, value in params.items() if name.startswith(FORM_PREFIX) and name != PRESET}
    if form and FORM_VALUES not in st.session_state:  # text: the form reads each value as its widget's type
        st.session_state[FORM_VALUES] = form


def sync_url() -> None:
    """Write what this session shows into the URL (page switches clear it; this runs after every page)."""
    wanted: dict[str, str] = {}
    if DATASET in st.session_state:
        wanted["data"] = BUILTIN_PARAM if _is_builtin(dataset()) else dataset_hash()[:16]
    if given_test() is not None:
        wanted["test"] = given_test().content_hash[:16]
    model = active_model()
    if model is not None and model.run_id:
        wanted["run"] = model.run_id
    job = st.session_state.get(JOB)
    if job is not None and job.running:
        wanted["job"] = job.job_id
    if st.session_state.get(REC_USER) is not None:
        wanted["user"] = str(st.session_state[REC_USER])
    movie = st.session_state.get(SIM_MOVIE)
    if movie is not None and model is not None and 0 <= int(movie) < model.recommender.n_items:
        wanted["movie"] = str(model.recommender.items.to_id([int(movie)])[0])
    previous = previous_active()
    if previous is not None and model is not None and model.run_id != previous[0]:
        wanted["previous"] = previous[0]
    wanted.update({key: str(value) for key, value in st.session_state.get(FORM_VALUES, {}).items()})
    if dict(st.query_params) != wanted:
        st.query_params.from_dict(wanted)


def url_choice(key: str) -> str | None:
    """The value a URL asked for a widget (``user``/``movie``), once; None when there was none."""
    return st.session_state.pop(f"{key}_from_url", None)


def ask(key: str, raw_id) -> None:
    """Ask a Recommend widget (REC_USER, SIM_MOVIE) for a raw user or item id on its next run, as a URL does."""
    st.session_state[f"{key}_from_url"] = str(raw_id)


@st.cache_resource(show_spinner=False)
def prepare_launcher() -> bool:
    """Once per server: let the launcher get ready while the first page draws (the local process launcher
    starts its helper, whose imports take seconds)."""
    launchers.choose().prepare()
    return True


def finish_seconds(config) -> float | None:
    """How long the work after the epochs (fitting the ranking model, judging the lists, measuring errors) took
    the active model's run, when it was trained on this data with the same ranking kind; None when unknown."""
    model = active_model()
    record = model.recommender.record if model else None
    if record is None or record.dataset.content_hash != dataset_hash() or record.ranking_kind != config.ranking_model:
        return None
    return record.finish_seconds or None  # 0: a run saved before it was timed


def start_training(config, evaluation: Evaluation = Evaluation()) -> TrainingJob:
    """Train ``config`` on the active dataset and split in the background; the job belongs to this session."""
    parts, test = split_for_training()
    job = TrainingJob(dataset(), parts, config, runs_dir(), split_settings(), dataset_hash(),
                      evaluation, finish_seconds=finish_seconds(config), test=test).start()
    st.session_state[JOB] = job
    st.session_state.pop(JOB_ABSORBED, None)
    return job


def start_sweep(parts, base, grid, evaluation: Evaluation = Evaluation()) -> None:
    """Run a sweep of ``grid`` around ``base`` on the active dataset in the background (this session's), its lists
    judged as the Train page's runs are (``evaluation``)."""
    st.session_state[SWEEP] = SweepJob(dataset(), parts, base, grid, runs_dir(), split_settings(),
                                       dataset_hash(), evaluation).start()
    st.session_state.pop(SWEEP_ABSORBED, None)  # so this sweep's end reruns the page as the last one's did


def _just_ended(job, absorbed_key: str) -> bool:
    """True once per job, on the first rerun after it ended (the page then reruns whole); ``absorbed_key`` is
    cleared when the next job of its kind starts."""
    if job.running or st.session_state.get(absorbed_key):
        return False
    st.session_state[absorbed_key] = True
    return True


def sweep_just_ended(sweep) -> bool:
    """True once, on the first rerun after ``sweep`` ended with results."""
    return bool(sweep.results) and _just_ended(sweep, SWEEP_ABSORBED)


def dataset_with_hash(wanted: str) -> Dataset | None:
    """The dataset whose ratings have content hash ``wanted``: the active one, or one in the dataset store."""
    if not wanted:
        return None
    if dataset_hash() == wanted:
        return dataset()
    saved = find_saved(runs_dir(), wanted)
    try:
        return load_saved(saved) if saved is not None else None
    except CFError:
        return None


def start_repeat(data: Dataset, record, seeds: list[int], group: str) -> RepeatJob:
    """Train ``record``'s settings on ``data`` again with each split seed of ``seeds`` in the background (this
    session's); each saved run joins ``group``."""
    job = RepeatJob(data, record.config, record.split, seeds, group, runs_dir(), record.dataset.content_hash,
                    record.evaluation).start()
    st.session_state[REPEAT] = job
    st.session_state.pop(REPEAT_ABSORBED, None)
    return job


def repeat_just_ended(job) -> bool:
    """True once, on the first rerun after ``job`` (a repeat) ended."""
    return _just_ended(job, REPEAT_ABSORBED)


def run_info(run_id: str) -> RunInfo | None:
    """The listing of a saved run in this session's runs folder; None for an id that names no run folder."""
    try:
        return read_run(run_path(runs_dir(), run_id))
    except CFError:  # a bad id stays a bad id until it is clicked
        return None


def runs_dir() -> Path:
    return Path(st.session_state.get(RUNS_DIR, DEFAULT_RUNS_DIR))


def flash(message: str, kind: str = "success") -> None:
    """A message to show once on the next run (e.g. after a button caused a rerun)."""
    st.session_state.setdefault(FLASH, []).append((kind, message))  # a link may fail twice (data and job)


def show_flash() -> None:
    for kind, message in st.session_state.pop(FLASH, []):
        getattr(st, kind)(message)


MEMO = "cf_memo"


def memo(owner, key: tuple, compute, store: weakref.WeakKeyDictionary | None = None):
    """Per-session memo for results derived from ``owner`` (a model), bounded per owner.

    Entries are held by the owner object itself (weak keys), never by ``id(owner)``: an id is reused
    once its object is freed, and a later model must not get an earlier model's labels or map. They go
    when the model does. ``store`` is for tests; pages use the session's.
    """
    if store is None:
        store = st.session_state.setdefault(MEMO, weakref.WeakKeyDictionary())
    entries = store.setdefault(owner, {})
    if key not in entries:
        if len(entries) >= 32:
            entries.pop(next(iter(entries)))
        entries[key] = compute()
    return entries[key]
