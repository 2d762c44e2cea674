"""End-to-end fixtures: the real app (`streamlit run app.py`) driven by a headless Chromium.

Write `tests/e2e/test_<topic>_browser.py` and use:
    app_url         base URL of the running app (session-wide; one server for all e2e tests)
    e2e_models_dir  the models folder the app sees: a private copy of the realistic demo if built, else tiny ones
    e2e_models      names of the two models the app selects by default (model 1, model 2)
    page            a fresh Playwright page per test (1280x800 on the realistic demo, else 1600x1000)
    goto(page, path="", **query)   open a page of the app and wait until its script has finished
    wait_idle(page)                wait until the current rerun has finished
    shoot(page, name)              save docs/screenshots/<name>.png and return its path
    start_app(models_dir, log, env)  context manager: a second server on its own models folder; yields its URL
    open_page(browser, url)          context manager: a fresh 1600x1000 page on that server
(the helpers are also attributes of the session-wide `e2e` fixture: e2e.goto, e2e.start_app, ...)
Chromium is Debian's /usr/bin/chromium (never `playwright install`); the tests skip, saying
why, only when it is missing.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "docs" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
START_TIMEOUT_S = 90


def pytest_collection_modifyitems(config, items):
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is absent (apt-get install chromium); e2e tests need a real browser")
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(skip)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def realistic_demo_source() -> Path | None:
    """A built realistic demo (multilingual-e5-small, 12 x 12 heads) to copy: $MLT_E2E_DEMO (scripts/test.sh builds
    it once into ~/.cache/mlt/demo-v<N>), else that cache, else the repo's models/; None when none is built."""
    from mlt_core.demo_e5 import DEMO_E5_VERSION, is_complete

    cache = Path(os.environ.get("MLT_DEMO_CACHE", Path.home() / ".cache" / "mlt")) / f"demo-v{DEMO_E5_VERSION}"
    for d in (os.environ.get("MLT_E2E_DEMO"), cache, REPO / "models"):
        if d and is_complete(d):
            return Path(d)
    return None


def _private_copy(src: Path, dst: Path) -> Path:
    """The demo checkpoints copied for the tests (weights hard-linked: nothing writes them in place; every write
    is a new file renamed over the old, which leaves the source untouched)."""
    from mlt_core.demo_e5 import NAMES

    def link_or_copy(a, b):
        if a.endswith((".safetensors", "tokenizer.json")):
            try:
                return os.link(a, b)
            except OSError:
                pass
        return shutil.copy2(a, b)

    for n in NAMES:
        shutil.copytree(src / n, dst / n, copy_function=link_or_copy)
    return dst


@pytest.fixture(scope="session")
def e2e_models_dir(tmp_path_factory) -> Path:
    """A private copy of the realistic demo (demo-base, demo-en, demo-hi, demo-en-hi: 12 x 12 heads) when one is
    built (see realistic_demo_source), else two tiny random checkpoints. Never the user's live models/."""
    src = realistic_demo_source()
    if src is not None:
        return _private_copy(src, tmp_path_factory.mktemp("e2e-demo"))
    from tiny import make_tiny_checkpoint

    d = tmp_path_factory.mktemp("e2e-models")
    make_tiny_checkpoint(d / "demo-en", seed=0, meta={"base": "tiny-xlmr", "train_langs": ["en"], "method": "full"})
    make_tiny_checkpoint(d / "demo-hi", seed=1, meta={"base": "tiny-xlmr", "train_langs": ["hi"], "method": "full"})
    return d


@pytest.fixture(scope="session")
def e2e_viewport(e2e_models_dir) -> dict:
    """1280 x 800 (a projector) on the realistic demo; the helpers' default size on the tiny models."""
    from mlt_core.demo_e5 import is_built

    return {"width": 1280, "height": 800} if is_built(e2e_models_dir) else {"width": 1600, "height": 1000}


@pytest.fixture(scope="session")
def e2e_models(e2e_models_dir) -> list[str]:
    return ["demo-en", "demo-hi"]


@contextmanager
def start_app(models_dir: Path, log: Path, env: dict | None = None):
    """Run `streamlit run app.py` on a free port against `models_dir` (output to `log`); yield its URL.

    `env` adds to (or overrides) the server's environment. The server runs in its own process
    group, which is stopped (SIGTERM, then SIGKILL) on exit.
    """
    port = _free_port()
    env = {**os.environ, "MLT_MODELS_DIR": str(models_dir), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1", **(env or {})}
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit not healthy after {START_TIMEOUT_S}s:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # our own process group (start_new_session)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture(scope="session")
def app_url(e2e_models_dir, tmp_path_factory):
    """Start `streamlit run app.py` on a free port against e2e_models_dir; stop it at the end."""
    with start_app(e2e_models_dir, tmp_path_factory.mktemp("e2e-server") / "streamlit.log") as url:
        yield url


@pytest.fixture(scope="session")
def _browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def _warm_app(_browser, app_url):
    """Open the home page once: app.py's first run leaves Streamlit's legacy pages/ mode for the
    whole server (a deep link as the very first request would run that page file alone) and pays
    the one-off imports before any test times anything."""
    ctx = _browser.new_context(base_url=app_url)
    pg = ctx.new_page()
    pg.goto("/")
    wait_idle(pg, timeout_ms=180_000)
    ctx.close()


@contextmanager
def open_page(browser, base_url: str, width: int = 1600, height: int = 1000):
    """A fresh page on `base_url` (own context: own cookies, own Streamlit session); closed on exit."""
    ctx = browser.new_context(viewport={"width": width, "height": height}, base_url=base_url)
    try:
        pg = ctx.new_page()
        pg.set_default_timeout(60_000)
        yield pg
    finally:
        ctx.close()


@pytest.fixture
def page(_browser, app_url, _warm_app, e2e_viewport):
    """A fresh page (own context: own cookies, own Streamlit session) at e2e_viewport (1280x800 on the real demo)."""
    with open_page(_browser, app_url, **e2e_viewport) as pg:
        yield pg


def wait_idle(page, timeout_ms: int = 90_000) -> None:
    """Wait until the app's script run has finished (and stays finished for a moment)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
    deadline = time.monotonic() + timeout_ms / 1000
    quiet_since = None
    while time.monotonic() < deadline:
        state = page.get_attribute('[data-testid="stApp"]', "data-test-script-state")
        if state == "notRunning":
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 0.6:
                return
        else:
            quiet_since = None
        page.wait_for_timeout(100)
    raise TimeoutError(f"app still running after {timeout_ms} ms")


def goto(page, path: str = "", **query) -> None:
    """Open app page `path` (e.g. "playground") with query parameters and wait for it to finish."""
    q = urllib.parse.urlencode(query, doseq=True)
    page.goto(f"/{path}" + (f"?{q}" if q else ""))
    wait_idle(page)


def shoot(page, name: str, full_page: bool = True, max_height: int = 4000) -> Path:
    """Save a screenshot as docs/screenshots/<name>.png (full_page: the whole scrolled app).

    Streamlit scrolls inside its own container, so a "full page" screenshot means growing the
    viewport to the content's height for the shot (then restoring it).
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    out = SCREENSHOTS / f"{name}.png"
    size = page.viewport_size
    if full_page and size:
        h = page.evaluate("""() => Math.max(...['stMain', 'stAppViewContainer', 'stMainBlockContainer']
            .map(t => document.querySelector(`[data-testid="${t}"]`)).filter(Boolean).map(e => e.scrollHeight))""")
        page.set_viewport_size({"width": size["width"], "height": int(min(max(h + 40, size["height"]), max_height))})
        page.wait_for_timeout(400)  # let charts re-layout
    try:
        page.screenshot(path=str(out))
    finally:
        if size:
            page.set_viewport_size(size)
    return out


@pytest.fixture(scope="session")
def e2e():
    """The helpers as one object: e2e.goto(page, ...), e2e.wait_idle(page), e2e.shoot(page, name), and for a
    test module that needs its own server: e2e.start_app(models_dir, log, env), e2e.open_page(browser, url)."""
    class _H:
        pass

    h = _H()
    h.goto, h.wait_idle, h.shoot, h.start_app, h.open_page = goto, wait_idle, shoot, start_app, open_page
    return h
