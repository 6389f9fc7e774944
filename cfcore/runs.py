"""The runs directory: every training run as a folder of plain files (run.json + model.pt) that survives restarts.

A run folder is written under a hidden temporary name and renamed into place in one step, so a
crash mid-save never leaves a half-written run; a folder that cannot be read is listed as unreadable.
A run's name and note (user text) live in a small ``label.json`` of their own, replaced atomically, so
renaming a run never rewrites or moves its model or record.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import secrets
import shutil
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from cfcore import checkpoint, jsonio
from cfcore.errors import CFError, CheckpointError
from cfcore.queries import Recommender
from cfcore.rankers import registry
from cfcore.records import RECORD_VERSION, RunRecord

# run.json is the run's RunRecord (format version 2) and its id; version 1 (loose config/metrics/history) still reads
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,120}$")
LABEL_FILE = "label.json"  # {"name": ..., "note": ...}: the only file of a run that is ever rewritten
NAME_MAX = 80  # characters in a run's name: it heads the runs table and chart legends
NOTE_MAX = 2000  # characters in a run's note
# bidirectional overrides and isolates can make a name display as something else than it is
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass(frozen=True)
class RunInfo:
    """One run folder as the Runs page lists it: its record (None when unreadable) and where it lives."""

    run_id: str
    path: Path
    readable: bool
    error: str = ""
    record: RunRecord | None = None
    label_error: str = ""  # why label.json was ignored, when it was damaged

    @property
    def name(self) -> str:
        """The person's name for the run (user text, shown literally), "" when unnamed."""
        return self.record.name if self.record is not None else ""

    @property
    def note(self) -> str:
        return self.record.note if self.record is not None else ""

    @property
    def title(self) -> str:
        """The run as legends and headings name it: its name and id, or its id alone."""
        return f"{self.name} · {self.run_id}" if self.name else self.run_id

    @property
    def label(self) -> str:
        return run_label(self.run_id, self.record)


def run_label(run_id: str, record: RunRecord | None) -> str:
    """The one way a run is named in the sidebar and pickers: name, run, ranking kind, dim, RMSE."""
    if record is None:
        return f"{run_id} · unreadable"
    rmse = f"RMSE {record.val_rmse:.4f}" if math.isfinite(record.val_rmse) else "RMSE ?"
    partial = " · partial (stopped in epoch 1)" if record.partial else ""
    named = f"{record.name} · " if record.name else ""
    return (f"{named}{run_id} · {registry.label(record.ranking_kind)} lists · dim {record.config.embedding_dim} · "
            f"{rmse}{partial}")


def check_run_id(run_id: str) -> str:
    """Run ids name folders: letters, digits, '_', '-', '.', never a path."""
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id) or ".." in run_id:
        raise CFError(f"invalid run id {run_id!r}: use letters, digits, '_', '-' and '.' only")
    return run_id


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def save_run(runs_dir: str | Path, rec: Recommender, *, run_id: str | None = None) -> RunInfo:
    """Write ``rec`` (its checkpoint, and its record as run.json) as a new run folder atomically; its listing."""
    if rec.record is None:
        raise CFError("a model without the record of its run cannot be saved as a run")
    runs_dir = Path(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    run_id = check_run_id(run_id or new_run_id())
    final = runs_dir / run_id
    if final.exists():
        raise CFError(f"run {run_id!r} already exists in {runs_dir}")
    tmp = runs_dir / f".tmp-{run_id}-{secrets.token_hex(3)}"
    tmp.mkdir()
    try:
        checkpoint.save(rec, tmp / "model.pt")
        meta = {"run_id": run_id, **rec.record.to_dict()}
        with open(tmp / "run.json", "w") as fh:
            fh.write(jsonio.dumps(meta, indent=2))
            fh.flush()
            os.fsync(fh.fileno())
        os.rename(tmp, final)  # the one step that makes the run visible
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return read_run(final)


def read_run(path: Path) -> RunInfo:
    """The listing of one run folder; problems make it unreadable, never raise."""
    try:
        meta = json.loads((path / "run.json").read_text())
        if not isinstance(meta, dict):
            raise ValueError("run.json does not hold an object")
        if not (path / "model.pt").is_file():
            raise ValueError("model.pt is missing")
        record = _record(meta)
    except (OSError, ValueError, TypeError, AttributeError, KeyError) as exc:
        return RunInfo(path.name, path, False, error=f"{type(exc).__name__}: {exc}"[:200])
    name, note, label_error = _read_label(path)
    return RunInfo(path.name, path, True, record=record.labelled(name, note), label_error=label_error)


def _record(meta: dict) -> RunRecord:
    """run.json's record: version 2 is a RunRecord; version 1 kept loose dicts (read by ``from_legacy``)."""
    version = meta.get("format_version")
    if version == RECORD_VERSION:
        return RunRecord.from_dict(meta)
    if version == 1 and "metrics" in meta:
        return RunRecord.from_legacy(dict(meta.get("config", {})), dict(meta["metrics"]), list(meta.get("history", [])),
                                     dataset=str(meta.get("dataset", "")), created=float(meta.get("created", 0)),
                                     source=str(meta.get("source", "trained")))
    raise ValueError(f"run.json format version {version!r}")


def _read_label(path: Path) -> tuple[str, str, str]:
    """(name, note, why it was ignored) from a run's label.json: a damaged one never hides the run."""
    try:
        label = json.loads((path / LABEL_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "", "", ""
    except (OSError, ValueError) as exc:
        return "", "", f"{LABEL_FILE} could not be read ({type(exc).__name__}); its name and note are ignored"
    try:
        if not isinstance(label, dict):
            raise CFError(f"{LABEL_FILE} holds {type(label).__name__}, not an object")
        name, note = check_label(label.get("name", ""), label.get("note", ""))
    except CFError as exc:
        return "", "", f"{exc}; its name and note are ignored"
    return name, note, ""


def check_label(name: object, note: object) -> tuple[str, str]:
    """A run's name and note with surrounding whitespace stripped; CFError names the limit broken.

    The name is one line of at most NAME_MAX characters without control characters; the note at most
    NOTE_MAX characters (line breaks and tabs allowed)."""
    if not isinstance(name, str) or not isinstance(note, str):
        raise CFError(f"a run's name and note are text, not {type(name).__name__} and {type(note).__name__}")
    name = name.strip()
    note = note.replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(name) > NAME_MAX:
        raise CFError(f"a run name is at most {NAME_MAX} characters; this one has {len(name)}")
    if len(note) > NOTE_MAX:
        raise CFError(f"a run note is at most {NOTE_MAX:,} characters; this one has {len(note):,}")
    bad = next((c for c in name if unicodedata.category(c) == "Cc" or c in _BIDI_CONTROLS), None)
    if bad is not None:
        raise CFError(f"a run name cannot hold control characters such as line breaks or tabs (found {bad!r})")
    bad = next((c for c in note if (unicodedata.category(c) == "Cc" and c not in "\n\t") or c in _BIDI_CONTROLS),
               None)
    if bad is not None:
        raise CFError(f"a run note cannot hold control characters other than line breaks and tabs (found {bad!r})")
    return name, note


def set_run_label(runs_dir: str | Path, run_id: str, name: str, note: str = "") -> RunInfo:
    """Give a run a name and a note (checked by ``check_label``) and return its new listing.

    Only the run's label.json is written (a temporary file renamed over it): the folder, run.json and
    model.pt are left as they are, so a rename never moves or loses a run's files."""
    name, note = check_label(name, note)
    path = run_path(runs_dir, run_id)
    if not (path / "run.json").is_file():
        raise CFError(f"run {run_id!r} does not exist in {runs_dir}")
    tmp = path / f".{LABEL_FILE}.tmp-{secrets.token_hex(3)}"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(json.dumps({"name": name, "note": note}, ensure_ascii=False, indent=2))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path / LABEL_FILE)  # the one step that changes the label
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return read_run(path)


def list_runs(runs_dir: str | Path) -> list[RunInfo]:
    """Every run folder, newest first; unreadable ones included (with ``readable=False``)."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    infos = [read_run(p) for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(infos, key=lambda r: (r.record.created if r.record else 0.0, r.run_id), reverse=True)


def run_path(runs_dir: str | Path, run_id: str) -> Path:
    """The folder of ``run_id``, guaranteed inside ``runs_dir``."""
    root = Path(runs_dir).resolve()
    path = (root / check_run_id(run_id)).resolve()
    if path.parent != root:
        raise CFError(f"invalid run id {run_id!r}")
    return path


def load_run(runs_dir: str | Path, run_id: str) -> Recommender:
    """The fitted model of a run, its record carrying the run's current name and note."""
    path = run_path(runs_dir, run_id)
    try:
        rec = checkpoint.load(path / "model.pt", label=f"run {run_id}")
    except CheckpointError:
        raise
    except OSError as exc:
        raise CheckpointError(f"run {run_id}: cannot read its model ({exc.strerror})") from None
    name, note, _ = _read_label(path)
    return rec.with_record(rec.record.labelled(name, note))


def delete_run(runs_dir: str | Path, run_id: str) -> None:
    """Remove a run folder (renamed away first, so a crash never leaves half a run listed)."""
    path = run_path(runs_dir, run_id)
    if not path.exists():
        return
    trash = path.parent / f".deleted-{run_id}-{secrets.token_hex(3)}"
    os.rename(path, trash)
    shutil.rmtree(trash, ignore_errors=True)


def import_checkpoint(runs_dir: str | Path, source: bytes | Path, file_name: str,
                      how: str = "uploaded") -> tuple[RunInfo, Recommender]:
    """Validate a checkpoint (uploaded bytes or a file on disk; never unpickling objects) and keep it as a new run.

    ``file_name`` is only a label: the run gets a fresh id inside ``runs_dir`` whatever the name says.
    """
    label = file_name if isinstance(source, Path) else (Path(file_name).name or "uploaded file")
    rec = checkpoint.load(source, label=label)
    rec = rec.with_record(dataclasses.replace(rec.record, source=f"{how} {Path(file_name).name}"[:200], name="",
                                              note=""))
    info = save_run(runs_dir, rec)
    return info, rec
