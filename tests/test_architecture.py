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
