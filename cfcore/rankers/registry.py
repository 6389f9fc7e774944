"""Finds the ranking model kinds: one module each in this folder, plus any in the folders ``CF_STUDIO_RANKERS`` names.

As ``cfcore/data/formats.py:READERS`` finds a file's format, this finds a kind by name: the config,
the CLI's choices and flags, the Train form, checkpoints and the Runs table all ask here, so a new kind
is one module and nothing else. ``CF_STUDIO_RANKERS`` (folders separated by ``os.pathsep``) adds kinds
that live outside this package, e.g. a team's own model, without editing CF Studio.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import pkgutil
import sys
import threading
from pathlib import Path

from cfcore.errors import ConfigError
from cfcore.rankers.base import Ranker, RankerParams

PLUGIN_PATH = "CF_STUDIO_RANKERS"  # environment variable: extra folders of kind modules
PLUGIN_PACKAGE = "cfstudio_rankers"  # the module name prefix kinds from those folders are imported under
_NOT_KINDS = {"base", "registry"}

_lock = threading.Lock()
_found: dict[tuple[str, ...], dict[str, type[Ranker]]] = {}  # by the plugin folders in effect


def kinds() -> dict[str, type[Ranker]]:
    """Every kind by name, in the order choices are offered (found once per set of plugin folders)."""
    folders = tuple(p for p in os.environ.get(PLUGIN_PATH, "").split(os.pathsep) if p)
    with _lock:
        if folders not in _found:
            _found[folders] = _discover(folders)
        return _found[folders]


def names() -> tuple[str, ...]:
    return tuple(kinds())


def default() -> str:
    """The kind a new run ranks with unless told otherwise: the first offered (the lowest ``order``)."""
    return next(iter(kinds()))


def references() -> list[str]:
    """The kinds every run's lists are compared with, the floor (most popular) first."""
    return sorted((name for name, kind in kinds().items() if kind.reference), key=lambda name: not get(name).floor)


def is_floor(kind: str) -> bool:
    found = kinds().get(kind)
    return found is not None and found.floor


def get(kind: str) -> type[Ranker]:
    """The kind called ``kind``; ConfigError naming the known ones otherwise."""
    found = kinds()
    if kind not in found:
        raise ConfigError(f"ranking model must be one of {', '.join(found)}; got {kind!r}")
    return found[kind]


def label(kind: str) -> str:
    """What pages call ``kind`` (the name itself for a kind this installation does not have)."""
    found = kinds().get(kind)
    return found.label if found is not None else kind


def params_for(kind: str, values: RankerParams | dict | None = None) -> RankerParams:
    """``kind``'s parameters: its defaults (None), checked values from a dict, or ``values`` if already its own."""
    params_type = get(kind).Params
    if values is None:
        return params_type()
    if isinstance(values, params_type):
        return values
    if isinstance(values, RankerParams):
        raise ConfigError(f"{type(values).__name__} are not parameters of the {kind!r} ranking model")
    return params_type.from_dict(values)


def _discover(folders: tuple[str, ...]) -> dict[str, type[Ranker]]:
    here = Path(__file__).parent
    modules = [importlib.import_module(f"cfcore.rankers.{info.name}")
               for info in pkgutil.iter_modules([str(here)]) if info.name not in _NOT_KINDS]
    for folder in folders:
        for path in sorted(Path(folder).glob("*.py")):
            modules.append(_load_plugin(path))
    found: dict[str, type[Ranker]] = {}
    for module in modules:
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Ranker) and cls.__module__ == module.__name__ and cls.kind and \
                    not inspect.isabstract(cls):
                if cls.kind in found and found[cls.kind] is not cls:
                    raise ConfigError(f"two ranking model kinds are called {cls.kind!r}: in {found[cls.kind].__module__} "
                                      f"and {cls.__module__}; rename one")
                found[cls.kind] = cls
    return dict(sorted(found.items(), key=lambda item: (item[1].order, item[0])))


def _load_plugin(path: Path):
    """Import a kind module from a plugin folder (once; its classes must stay the same objects)."""
    name = f"{PLUGIN_PACKAGE}.{path.stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{path} is not a Python module that can hold a ranking model kind")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise ConfigError(f"the ranking model module {path} ({PLUGIN_PATH}) failed to load: "
                          f"{type(exc).__name__}: {exc}") from None
    return module
