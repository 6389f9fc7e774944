"""Dependencies point one way: pages -> ui -> cfcore -> torch; cfcore never imports Streamlit or prints."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_cfcore_never_imports_streamlit_and_only_the_cli_prints():
    for path in (ROOT / "cfcore").glob("*.py"):
        assert "streamlit" not in _imports(path), path
        if path.name not in ("cli.py", "__main__.py"):
            calls = [n for n in ast.walk(ast.parse(path.read_text()))
                     if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "print"]
            assert not calls, f"{path.name} prints"


def test_pages_and_ui_never_import_torch():
    files = [ROOT / "app.py", *(ROOT / "views").glob("*.py"), *(ROOT / "ui").glob("*.py")]
    assert len(files) >= 3
    for path in files:
        assert "torch" not in _imports(path), path


def test_every_module_says_its_job():
    for path in [*(ROOT / "cfcore").glob("*.py"), *(ROOT / "ui").glob("*.py"), *(ROOT / "views").glob("*.py")]:
        doc = ast.get_docstring(ast.parse(path.read_text()))
        assert doc and len(doc.splitlines()[0]) > 10, path


def test_screens_are_not_in_a_pages_folder():
    # Streamlit routes a deep link such as /recommend to pages/recommend.py directly when that folder
    # exists, skipping app.py (no navigation, no sidebar, no state restored from the URL)
    assert not (ROOT / "pages").exists()
    assert len(list((ROOT / "views").glob("*.py"))) >= 6


def _cfcore_imports(path: Path) -> set[str]:
    """The cfcore modules ``path`` imports anywhere in it (inside functions too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cfcore"):
            if node.module == "cfcore":  # from cfcore import kernels, resources
                names |= {alias.name for alias in node.names}
            else:
                names.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            names |= {alias.name.split(".")[1] for alias in node.names if alias.name.startswith("cfcore.")}
    return names


def test_cfcore_has_no_import_cycle_not_even_inside_a_function():
    """An import inside a function that dodges a cycle hides a layering a newcomer cannot see."""
    modules = {p.stem: p for p in (ROOT / "cfcore").glob("*.py")}
    graph = {name: _cfcore_imports(path) & set(modules) - {name} for name, path in modules.items()}
    assert graph["data"] and graph["train"]  # the walk sees imports at all
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for dep in sorted(graph[name]):
            assert state.get(dep) != "open", "import cycle: " + " -> ".join([*trail, name, dep])
            if dep not in state:
                visit(dep, [*trail, name])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])


def test_ui_never_imports_the_screens():
    for path in (ROOT / "ui").glob("*.py"):
        assert "views" not in _imports(path), path


def test_colours_live_in_one_palette():
    import re

    colour = re.compile(r"#[0-9A-Fa-f]{6}\b|#[0-9A-Fa-f]{3}\b")
    for path in [ROOT / "app.py", *(ROOT / "views").glob("*.py"), *(ROOT / "ui").glob("*.py")]:
        if path.name != "charts.py":
            assert not colour.search(path.read_text()), f"{path.name} spells a colour; use ui/charts.py's palette"
    theme = (ROOT / ".streamlit" / "config.toml").read_text()
    from ui.charts import ACCENT

    assert f'primaryColor = "{ACCENT}"' in theme
