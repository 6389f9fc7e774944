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
    for path in (ROOT / "cfcore").rglob("*.py"):
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
    for path in [*(ROOT / "cfcore").rglob("*.py"), *(ROOT / "ui").glob("*.py"), *(ROOT / "views").glob("*.py")]:
        doc = ast.get_docstring(ast.parse(path.read_text()))
        assert doc and len(doc.splitlines()[0]) > 10, path


def test_screens_are_not_in_a_pages_folder():
    # Streamlit routes a deep link such as /recommend to pages/recommend.py directly when that folder
    # exists, skipping app.py (no navigation, no sidebar, no state restored from the URL)
    assert not (ROOT / "pages").exists()
    assert len(list((ROOT / "views").glob("*.py"))) >= 6


def _cfcore_modules() -> dict[str, Path]:
    """cfcore's modules by dotted name below the package: "train", "data.load", "data" (its __init__)."""
    out = {}
    for path in (ROOT / "cfcore").rglob("*.py"):
        parts = path.relative_to(ROOT / "cfcore").with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts) or "cfcore"] = path
    return out


def _cfcore_imports(path: Path, modules: set[str]) -> set[str]:
    """The cfcore modules ``path`` imports anywhere in it (inside functions too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "cfcore":
            base = node.module.partition(".")[2]  # "" for "from cfcore import x"
            for alias in node.names:  # from cfcore.data import raw: the module data.raw (and the package data)
                member = f"{base}.{alias.name}" if base else alias.name
                names.add(member if member in modules else base)
            if base:
                names.add(base)
        elif isinstance(node, ast.Import):
            names |= {alias.name.partition(".")[2] for alias in node.names if alias.name.startswith("cfcore.")}
    return names - {""}


def test_cfcore_has_no_import_cycle_not_even_inside_a_function():
    """An import inside a function that dodges a cycle hides a layering a newcomer cannot see."""
    modules = _cfcore_modules()
    graph = {name: _cfcore_imports(path, set(modules)) & set(modules) - {name} for name, path in modules.items()}
    assert graph["data.load"] and graph["train"]  # the walk sees imports at all
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
    palette = ROOT / "cfcore" / "figures" / "style.py"
    for path in [ROOT / "app.py", *(ROOT / "views").glob("*.py"), *(ROOT / "ui").glob("*.py"),
                 *(ROOT / "cfcore").rglob("*.py")]:
        if path != palette:
            assert not colour.search(path.read_text()), f"{path.name} spells a colour; use {palette.name}'s palette"
    theme = (ROOT / ".streamlit" / "config.toml").read_text()
    from cfcore.figures.style import ACCENT

    assert f'primaryColor = "{ACCENT}"' in theme


def test_the_data_package_reexports_nothing():
    """Each data module is imported by name: a package __init__ that imports its modules would make every
    `from cfcore.data.x import` depend on all of them (and hide cycles)."""
    tree = ast.parse((ROOT / "cfcore" / "data" / "__init__.py").read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]


def test_every_format_is_one_registered_reader():
    from cfcore.data.formats import READERS

    assert [r.name for r in READERS][-1] == "text"  # the catch-all stays last
    for reader in READERS:
        assert callable(reader.ratings) and callable(reader.items), reader.name


def _kind_names_used_as_code(tree: ast.AST, names: set[str]) -> list[tuple[int, str]]:
    """(line, name) where a kind's name is compared with, looked up by, or passed as a value: ``x == "ease"``,
    ``kind in ("ease", ...)``, ``labels["ease"]``, ``get("ease")``, ``ranking_model="ease"``."""
    def named(node) -> list[str]:
        parts = node.elts if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else [node]
        return [p.value for p in parts if isinstance(p, ast.Constant) and p.value in names]

    found = []
    for node in ast.walk(tree):
        operands = []
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
        elif isinstance(node, ast.Subscript):
            operands = [node.slice]
        elif isinstance(node, ast.Call):
            operands = [*node.args, *(k.value for k in node.keywords)]
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            operands = [node.value]
        found += [(node.lineno, name) for operand in operands for name in named(operand)]
    return found


def test_ranking_kinds_are_named_only_by_their_own_modules():
    """A kind is a plug-in: no page, job, chart or loop branches on a kind's name (an if-chain on "ease" in
    five files was how adding a kind used to touch nine). Its name appears in its own module and in
    user-facing text, never as a value the code compares with or looks up."""
    from cfcore.rankers import registry

    names = set(registry.names())
    assert _kind_names_used_as_code(ast.parse('if kind == "ease": labels["mf"]'), names) == [(1, "ease"), (1, "mf")]
    files = [ROOT / "app.py", *(ROOT / "views").glob("*.py"), *(ROOT / "ui").glob("*.py"),
             *(p for p in (ROOT / "cfcore").rglob("*.py") if p.parent.name != "rankers")]
    assert len(names) >= 3 and len(files) > 30
    for path in files:
        for line, name in _kind_names_used_as_code(ast.parse(path.read_text()), names):
            raise AssertionError(f"{path.relative_to(ROOT)}:{line} uses the ranking kind {name!r} as a value")
