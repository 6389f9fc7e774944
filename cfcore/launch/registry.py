"""The one place a launcher is chosen: a table of the places runs can execute, and the default.

The dashboard asks ``choose()`` for every run and sweep trial; ``CF_STUDIO_LAUNCHER`` (or ``cfstudio app
--launcher NAME``) picks another. A new place (a cluster) is one module in this folder and one line here.
"""

from __future__ import annotations

import os

from cfcore.errors import ConfigError
from cfcore.launch.base import Launcher
from cfcore.launch.process import ProcessLauncher
from cfcore.launch.thread import ThreadLauncher

LAUNCHERS: dict[str, type] = {  # name -> launcher class; the first available one is the default
    ProcessLauncher.name: ProcessLauncher,  # this machine, a process of its own per run (Linux)
    ThreadLauncher.name: ThreadLauncher,  # this machine, a thread of the caller (anywhere)
}
ENV = "CF_STUDIO_LAUNCHER"


def choose(name: str | None = None) -> Launcher:
    """The launcher called ``name`` (default: ``$CF_STUDIO_LAUNCHER``, else the first available here).

    A named launcher that cannot work on this machine (a process of its own where there is no fork)
    falls back to the next available one, as the default does."""
    name = name or os.environ.get(ENV) or next(iter(LAUNCHERS))
    if name not in LAUNCHERS:
        raise ConfigError(f"launcher must be one of {', '.join(LAUNCHERS)}; got {name!r} (from --launcher or {ENV})")
    names = list(LAUNCHERS)
    for candidate in names[names.index(name):] + names[:names.index(name)]:
        if LAUNCHERS[candidate].available():
            return LAUNCHERS[candidate]()
    raise ConfigError("no launcher can run training on this machine")  # pragma: no cover - thread always can
