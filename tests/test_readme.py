"""The README's promises that code can check: its Python example runs as printed and says what it claims."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_example() -> str:
    """The one ```python block under "## Use it from Python"."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Use it from Python", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    return code


def test_the_python_example_trains_recommends_and_finds_similar_movies():
    code = readme_example()
    assert len(code.strip().splitlines()) <= 10  # the ten-line example the README promises
    out = io.StringIO()
    scope: dict = {}
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - our own README
    model = scope["model"]
    assert 0.85 < model.record.val_rmse < 0.88  # "0.87 on the built-in data"
    printed = out.getvalue()
    assert "Episode V - The Empire" in printed and "Episode VI" in printed  # most like Star Wars: its sequels
    recs = model.recommend(user_id=1, k=10)
    assert len(recs) == 10 and not set(recs["item_id"]) & set(model.user_ratings(1)["item_id"])
