"""The dashboard started exactly as the README starts it: scripts/start.sh, with ./.venv inside the folder.

Other browser tests start streamlit with the file watcher off; a user does not. Here a copy of the
project gets a ``.venv`` of its own inside it (hard links to the test environment's, so nothing is
downloaded), ``scripts/start.sh`` starts the server, a real Chromium tab opens it, and the server's
CPU time is read from /proc while the tab sits idle.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests.browser_support import CHROMIUM, LAUNCH_ARGS, ROOT, free_port, stop_server, wait_healthy, wait_idle

IDLE_SECONDS = 10.0
MAX_IDLE_CORE_SHARE = 0.05  # the bound: under 5% of one core with a tab open and nothing running


def project_copy(dest: Path) -> Path:
    """The tracked and untracked-not-ignored files (what a clone plus local edits holds), plus ./.venv."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, files):
        source = ROOT / name.decode()
        if source.is_file():
            (dest / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name.decode())
    venv = Path(sys.prefix)  # the environment running the tests: a venv whose site-packages hold everything
    # hard links: the copy is a real tree of thousands of folders (what a watcher would crawl) at no disk cost
    subprocess.run(["cp", "-al", str(venv), str(dest / ".venv")], check=True)
    return dest


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_start_script_server_stays_idle_with_a_tab_open(tmp_path):
    assert Path(CHROMIUM).exists(), "chromium is not installed; scripts/test.sh installs it"
    app = project_copy(tmp_path / "cfstudio")
    port = free_port()
    log_path = tmp_path / "server.log"
    env = {**os.environ, "CF_STUDIO_PORT": str(port), "CF_STUDIO_RUNS_DIR": str(tmp_path / "runs"),
           "PYTHON": sys.executable}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(["bash", "scripts/start.sh"], cwd=app, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, 180, log_path)  # start.sh first checks the requirements with pip
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(url)
            wait_idle(page)
            expect(page.locator("h1", has_text="CF Studio")).to_be_visible(timeout=60_000)
            page.locator('[data-testid="stSidebarNavLink"]', has_text="Data").click()
            wait_idle(page)
            expect(page.locator('[data-testid="stMetricValue"]').first).to_have_text("100,004", timeout=60_000)
            page.wait_for_timeout(3000)  # let the first render's work settle
            before = cpu_seconds(proc.pid)
            time.sleep(IDLE_SECONDS)
            used = cpu_seconds(proc.pid) - before
            browser.close()
        log = log_path.read_text()
        print(f"server CPU with an idle tab: {used:.3f} s in {IDLE_SECONDS:.0f} s")
        assert "Inotify" not in log and "overflow" not in log.lower(), log[-2000:]
        assert used / IDLE_SECONDS < MAX_IDLE_CORE_SHARE, (
            f"server used {used:.2f} s of CPU in {IDLE_SECONDS:.0f} s with an idle tab open")
    finally:
        stop_server(proc)
