"""Find the dashboard (app.py, views/, .streamlit/) in a checkout or an installed copy and start it: `cfstudio app`.

Two places hold it:

- a source checkout, the folder above this package (``pip install -e .``, what scripts/start.sh does): the
  checkout's own app.py runs, so edits show up without reinstalling;
- an installed copy (``pip install .``): pyproject.toml ships app.py, views/ and .streamlit/config.toml as
  data files in ``<prefix>/share/cf-studio/``; the distribution's RECORD says where pip put them.

The server is ``python -m streamlit run <folder>/app.py`` in place of this process (cfcore never imports
Streamlit). Streamlit reads ``<folder>/.streamlit/config.toml`` beside the main script after
``~/.streamlit/`` and ``$CWD/.streamlit/``, so the dashboard's settings (file watcher off, no GC after each
run, the theme) hold wherever it is started from; tests/test_package.py checks that they do.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from cfcore.errors import CFError

DISTRIBUTION = "cf-studio"  # the name in pyproject.toml
SHARE = ("share", "cf-studio")  # where pyproject.toml's data-files put the dashboard, below the install prefix


@dataclass(frozen=True)
class Dashboard:
    """Where the dashboard's files are: ``folder`` holds app.py, views/ and .streamlit/config.toml."""

    folder: Path
    checkout: bool  # a source checkout's own files (else a copy installed from the wheel)

    @property
    def app(self) -> Path:
        return self.folder / "app.py"


def find_dashboard() -> Dashboard:
    """The checkout this package sits in, else the copy installed with it; CFError when neither holds it."""
    checkout = Path(__file__).resolve().parents[1]
    if _holds_dashboard(checkout) and (checkout / "pyproject.toml").is_file():
        return Dashboard(checkout, checkout=True)
    installed = _installed_folder()
    if installed is not None and _holds_dashboard(installed):
        return Dashboard(installed, checkout=False)
    where = f" (looked in {installed})" if installed is not None else ""
    raise CFError(f"the dashboard (app.py and views/) was not found beside cfcore ({checkout}) nor among the files "
                  f"installed with {DISTRIBUTION}{where}; reinstall it with `pip install .` from a CF Studio "
                  "checkout, or run `bash scripts/start.sh` in the checkout")


def streamlit_command(app: Path, address: str, port: str | int, streamlit_args: Sequence[str] = ()) -> list[str]:
    """The command that serves ``app`` on ``address:port``; ``streamlit_args`` (``--server.*`` options) go last,
    so they win. CFError when ``port`` is not 1 to 65535."""
    if not str(port).isdigit() or not 0 < int(port) < 65536:
        raise CFError(f"--port {str(port)!r} is not a port number (1 to 65535)")
    return [sys.executable, "-m", "streamlit", "run", str(app), "--server.address", address,
            "--server.port", str(port), *streamlit_args]


def run(address: str, port: str | int, streamlit_args: Sequence[str] = ()) -> None:
    """Replace this process by the Streamlit server running the dashboard (returns only if exec is stubbed)."""
    dashboard = find_dashboard()
    command = streamlit_command(dashboard.app, address, port, streamlit_args)
    if dashboard.checkout:
        # a checkout runs in its own folder, as it always has (its ./runs, which .gitignore leaves out); an
        # installed copy runs where it was started: its folder belongs to pip, not to the user's runs
        os.chdir(dashboard.folder)
    os.execv(sys.executable, command)


def _holds_dashboard(folder: Path) -> bool:
    return (folder / "app.py").is_file() and (folder / "views").is_dir()


def _installed_folder() -> Path | None:
    """share/cf-studio of the installed distribution this very module came from (its RECORD lists both)."""
    here = Path(__file__).resolve()
    for dist in metadata.distributions(name=DISTRIBUTION):
        files = list(dist.files or ())
        if not any(f.name == here.name and Path(dist.locate_file(f)).resolve() == here for f in files):
            continue  # another copy of cf-studio further along sys.path
        for file in files:
            if file.parts[-3:] == (*SHARE, "app.py"):
                return Path(dist.locate_file(file)).resolve().parent
    return None
