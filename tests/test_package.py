"""The package as a user gets it: a wheel of this checkout in a fresh environment, its commands run elsewhere.

One wheel per module: built with this environment's setuptools (no network) from a copy of the tracked and
untracked-not-ignored files, so the checkout gets no build/ or egg-info; installed with ``--no-deps`` into a
new virtual environment that borrows this environment's site-packages for the dependencies (a ``.pth`` line,
so the editable install of cf-studio found there is never what runs). ``cfstudio`` then runs from an empty
folder: ``--help``, a one-epoch ``train``, and ``app`` opened in headless Chromium, where the dashboard's own
.streamlit/config.toml must be in effect although the server did not start in a folder that holds it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

import cfcore
from tests.browser_support import CHROMIUM, LAUNCH_ARGS, ROOT, free_port, screenshot, stop_server, wait_healthy, wait_idle

SETTINGS = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())


@dataclass(frozen=True)
class Installed:
    source: Path  # what the wheel was built from
    wheel: Path
    venv: Path
    elsewhere: Path  # an empty folder: the working directory of every command
    env: dict[str, str]

    @property
    def cfstudio(self) -> Path:
        return self.venv / "bin" / "cfstudio"

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([str(a) for a in args], cwd=self.elsewhere, env=self.env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)


def source_copy(dest: Path) -> Path:
    """The tracked and untracked-not-ignored files: what a clone plus local edits holds."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        if (ROOT / name).is_file():  # a file deleted in the work tree is still in the index
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


def _check(*command) -> str:
    """Run a setup step; its output on failure."""
    result = subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{command}: {result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    tmp = tmp_path_factory.mktemp("package")
    source = source_copy(tmp / "source")
    quiet = ["--disable-pip-version-check", "--no-index", "--quiet"]
    _check(sys.executable, "-m", "pip", "wheel", *quiet, "--no-deps", "--no-build-isolation", "--wheel-dir", tmp / "dist",
           source)
    (wheel,) = (tmp / "dist").glob("cf_studio-*.whl")
    venv = tmp / "venv"
    _check(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    # installed before the .pth below exists, so pip sees an empty environment (not the editable cf-studio)
    _check(sys.executable, "-m", "pip", "--python", python, "install", *quiet, "--no-deps", wheel)
    site_packages = Path(_check(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip())
    # the dependencies: this environment's site-packages as a plain path line, which runs none of the .pth
    # files there (the editable install's import hook among them) and comes after the new site-packages
    ours = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    (site_packages / "zz_test_environment.pth").write_text("".join(f"{path}\n" for path in ours))
    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()
    # nothing from this session that a user's shell would not have: no import path, no STREAMLIT_* settings
    env = {key: value for key, value in os.environ.items() if not key.startswith("STREAMLIT_")
           and key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "CF_STUDIO_RUNS_DIR", "CF_STUDIO_PORT")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return Installed(source, wheel, venv, elsewhere, env)


def test_the_wheel_holds_every_module_and_the_dashboard_in_one_folder(installed):
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    modules = {path.relative_to(installed.source).as_posix() for top in ("cfcore", "ui")
               for path in (installed.source / top).rglob("*.py")}
    assert "cfcore/data/__init__.py" in modules and "ui/state.py" in modules  # the walk sees subpackages at all
    assert sorted(modules - names) == []  # every subpackage, found without being named
    data = f"cf_studio-{cfcore.__version__}.data/data/share/cf-studio/"
    dashboard = ["app.py", ".streamlit/config.toml",
                 *(p.relative_to(installed.source).as_posix() for p in (installed.source / "views").glob("*.py"))]
    assert len(dashboard) >= 8
    with zipfile.ZipFile(installed.wheel) as wheel:
        for name in dashboard:
            assert wheel.read(data + name) == (installed.source / name).read_bytes(), name
        metadata = wheel.read(f"cf_studio-{cfcore.__version__}.dist-info/METADATA").decode()
    # nothing else at the top of site-packages: no stray app.py, views/ or tests/
    tops = {name.split("/")[0] for name in names}
    assert tops == {"cfcore", "ui", f"cf_studio-{cfcore.__version__}.dist-info", f"cf_studio-{cfcore.__version__}.data"}
    assert re.search(r"^Version: (.+)$", metadata, re.M).group(1) == cfcore.__version__
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]  # one source: cfcore.__version__


def test_installed_cfstudio_help_runs_from_any_folder_on_the_installed_copy(installed):
    result = installed.run(installed.cfstudio, "--help", timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: cfstudio")
    for command in ("train", "recommend", "similar", "app"):
        assert command in result.stdout
    probe = installed.run(installed.venv / "bin" / "python", "-c",
                          "import importlib.metadata as m, cfcore, cfcore.data.load, ui.state; "
                          "print(cfcore.__file__, ui.state.__file__, cfcore.__version__, m.version('cf-studio'), sep='\\n')",
                          timeout=120)
    assert probe.returncode == 0, probe.stderr
    cfcore_file, ui_file, version, dist_version = probe.stdout.split()
    for path in (cfcore_file, ui_file):
        assert Path(path).is_relative_to(installed.venv), f"{path} is not the installed copy"
    assert version == dist_version == cfcore.__version__


def test_installed_cfstudio_trains_one_epoch_on_the_builtin_data(installed):
    result = installed.run(installed.cfstudio, "train", "--epochs", "1", "--ranking-model", "popularity", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rmse = re.search(r"validation RMSE (\d+\.\d+)", result.stdout)
    assert rmse, result.stdout[-3000:]
    assert 0.8 < float(rmse.group(1)) < 1.1  # one epoch on MovieLens: between bias-only (~0.90) and the mean (~1.06)


def _rgb(hex_colour: str) -> str:
    return "rgb({}, {}, {})".format(*(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)))


def _inotify_fds(pid: int) -> int:
    fds = Path(f"/proc/{pid}/fd")
    return sum(os.readlink(fds / fd) == "anon_inode:inotify" for fd in os.listdir(fds))


def test_installed_cfstudio_app_serves_the_dashboard_with_its_own_settings(installed):
    assert Path(CHROMIUM).exists(), "chromium is not installed; scripts/test.sh installs it"
    port = free_port()
    log_path = installed.elsewhere / "server.log"
    with open(log_path, "w") as log:  # no --server.* flags: headless and the rest come from the installed config
        proc = subprocess.Popen([str(installed.cfstudio), "app", "--port", str(port)], cwd=installed.elsewhere,
                                env=installed.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, 120, log_path)
        # cfstudio exec'd Streamlit in its own process, on the installed copy of app.py
        command = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        app = Path(command[command.index(b"run") + 1].decode())
        assert app.is_relative_to(installed.venv) and app.parts[-3:] == ("share", "cf-studio", "app.py"), command
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(url)
            wait_idle(page)
            expect(page.locator("h1", has_text="CF Studio")).to_be_visible(timeout=60_000)
            expect(page).to_have_title("CF Studio")
            sidebar = page.locator('[data-testid="stSidebar"]')
            expect(sidebar.get_by_text("Dataset", exact=True)).to_be_visible()
            expect(sidebar).to_contain_text("100,004 ratings")
            # the theme: the primary button wears the config's colour, not Streamlit's red
            demo = page.get_by_role("button", name="Run the demo", exact=True)
            expect(demo).to_have_css("background-color", _rgb(SETTINGS["theme"]["primaryColor"]))
            screenshot(page, "installed-package-home")
            # server options: no file watcher although a session ran (Streamlit's default, auto, holds an inotify
            # watch on the script's folder from the first session on) ...
            assert SETTINGS["server"]["fileWatcherType"] == "none"
            assert _inotify_fds(proc.pid) == 0
            # ... and the upload limit the Data page's uploader states (Streamlit's default: 200MB)
            page.locator('[data-testid="stSidebarNavLink"]', has_text="Data").click()
            wait_idle(page)
            page.get_by_text("Upload a file").click()
            wait_idle(page)
            limit = page.locator('[data-testid="stFileUploaderDropzoneInstructions"]').first
            expect(limit).to_contain_text(f"{SETTINGS['server']['maxUploadSize'] / 1000:g}GB per file", timeout=60_000)
            browser.close()
    finally:
        stop_server(proc)
