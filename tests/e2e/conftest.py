"""End-to-end fixtures: the real app (`streamlit run app.py`) driven by a headless Chromium.

Write `tests/e2e/test_<topic>_browser.py` and use:
    app_url         base URL of the running app (session-wide; one server for all e2e tests)
    e2e_models_dir  the models folder the app sees: a private copy of the realistic demo if built, else tiny ones
    e2e_models      names of the two models the app selects by default (model 1, model 2)
    page            a fresh Playwright page per test (1280x800 on the realistic demo, else 1600x1000)
    goto(page, path="", **query)   open a page of the app and wait until its script has finished
    wait_idle(page)                wait until the current rerun has finished
    wait_for(page, selector, what) wait until THE element a test means is visible (a keyed `.st-key-...`
                                   selector, never `.first` of a kind that may sit hidden in an expander)
    budget_ms(ms)                  a wait budget scaled to the machine's load and MLT_E2E_TIMEOUT_SCALE
    shoot(page, name)              save <screenshots>/<name>.png and return its path
    start_app(models_dir, log, env)  context manager: a second server on its own models folder; yields its URL
    open_page(browser, url)          context manager: a fresh 1600x1000 page on that server
(the helpers are also attributes of the session-wide `e2e` fixture: e2e.goto, e2e.start_app, ...)
Chromium is Debian's /usr/bin/chromium (never `playwright install`); the tests skip, saying
why, only when it is missing.

Settings (env): MLT_E2E_TIMEOUT_SCALE multiplies every wait (default 1; waits also grow with the load
per core, up to 4x); screenshots go to .e2e-artifacts/screenshots/ (git-ignored), or to
MLT_SCREENSHOTS (`bash scripts/screenshots.sh` refreshes the
README's). A failed test or a timed-out wait saves a screenshot and the server log under
.e2e-artifacts/failures/<test>/. The app runs on a private copy of the models (never the user's
live models/) and a private result cache.
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
ARTIFACTS = Path(os.environ.get("MLT_E2E_ARTIFACTS") or REPO / ".e2e-artifacts")
SCREENSHOTS = REPO / os.environ["MLT_SCREENSHOTS"] if os.environ.get("MLT_SCREENSHOTS") else ARTIFACTS / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
START_TIMEOUT_S = 90
_SERVER_LOGS: list[Path] = []  # logs of the servers started in this session, saved with a failure


def budget_ms(ms: float) -> int:
    """A wait of `ms` on an idle machine, scaled: x MLT_E2E_TIMEOUT_SCALE, x the load per core (1..4)."""
    try:
        load = os.getloadavg()[0] / (os.cpu_count() or 1)
    except OSError:
        load = 1.0
    return int(ms * float(os.environ.get("MLT_E2E_TIMEOUT_SCALE") or 1) * min(4.0, max(1.0, load)))


def save_failure(name: str, page=None) -> Path:
    """Screenshot of `page` (if any) and the server logs, into .e2e-artifacts/failures/<name>/."""
    d = ARTIFACTS / "failures" / "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    d.mkdir(parents=True, exist_ok=True)
    if page is not None:
        try:
            page.screenshot(path=str(d / "page.png"), full_page=True)
        except Exception:  # noqa: BLE001 - a closed page: the log still helps
            pass
    for i, log in enumerate(_SERVER_LOGS):
        if log.is_file():
            shutil.copy(log, d / f"server-{i}.log")
    return d


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed e2e test (e.g. a Playwright wait that timed out) leaves its screenshot and the server log."""
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed and Path(__file__).parent in Path(str(item.fspath)).parents:
        d = save_failure(item.nodeid.split("::", 1)[-1], item.funcargs.get("page"))
        rep.sections.append(("e2e artifacts", f"screenshot and server log in {d}"))


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
    from mlt_core.demo.e5 import DEMO_E5_VERSION, is_complete

    cache = Path(os.environ.get("MLT_DEMO_CACHE", Path.home() / ".cache" / "mlt")) / f"demo-v{DEMO_E5_VERSION}"
    for d in (os.environ.get("MLT_E2E_DEMO"), cache, REPO / "models"):
        if d and is_complete(d):
            return Path(d)
    return None


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


def _private_copy(real: Path, d: Path) -> Path:
    """The demo checkpoints of `real` (demo-*), hard-linked where possible, into `d`: never the user's live
    models/, and none of what using the app left there (other checkpoints, jobs, runs)."""
    def link(src, dst):
        try:
            os.link(src, dst)  # files are only ever replaced atomically, never written in place
        except OSError:
            shutil.copy2(src, dst)

    for p in sorted(real.glob("demo-*")):
        if p.is_dir() and not p.is_symlink():
            shutil.copytree(p, d / p.name, copy_function=link)
    return d


@pytest.fixture(scope="session")
def e2e_viewport(e2e_models_dir) -> dict:
    """1280 x 800 (a projector) on the realistic demo; the helpers' default size on the tiny models."""
    from mlt_core.demo.e5 import is_built

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
    _SERVER_LOGS.append(log)
    env = {**os.environ, "MLT_MODELS_DIR": str(models_dir), "MLT_CACHE_DIR": str(log.parent / "cache"),
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1", **(env or {})}
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    start_s = budget_ms(START_TIMEOUT_S * 1000) / 1000
    deadline = time.monotonic() + start_s
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
                pytest.fail(f"streamlit not healthy after {start_s:.0f}s:\n{log.read_text(errors='replace')[-3000:]}")
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
    wait_idle(pg, timeout_ms=180_000)  # scaled
    ctx.close()


@contextmanager
def open_page(browser, base_url: str, width: int = 1600, height: int = 1000):
    """A fresh page on `base_url` (own context: own cookies, own Streamlit session); closed on exit."""
    ctx = browser.new_context(viewport={"width": width, "height": height}, base_url=base_url)
    try:
        pg = ctx.new_page()
        pg.set_default_timeout(budget_ms(60_000))
        yield pg
    finally:
        ctx.close()


@pytest.fixture
def page(_browser, app_url, _warm_app, e2e_viewport):
    """A fresh page (own context: own cookies, own Streamlit session) at e2e_viewport (1280x800 on the real demo)."""
    with open_page(_browser, app_url, **e2e_viewport) as pg:
        yield pg


def wait_idle(page, timeout_ms: int = 90_000) -> None:
    """Wait until the app's script run has finished (and stays finished for a moment).

    `timeout_ms` is the budget on an idle machine (scaled by budget_ms); on timeout the screenshot and
    server log are saved (save_failure)."""
    timeout_ms = budget_ms(timeout_ms)
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
    d = save_failure(f"wait_idle-{int(time.time())}", page)
    raise TimeoutError(f"app still running after {timeout_ms} ms (screenshot and server log in {d})")


def wait_for(page, selector: str, what: str, timeout_ms: int = 60_000):
    """Wait until the element `selector` (one concrete element, e.g. `.st-key-pg_card_0`) is visible; returns
    its locator. On timeout: screenshot + server log saved, and the failure names `what` was awaited."""
    loc = page.locator(selector)
    try:
        loc.wait_for(state="visible", timeout=budget_ms(timeout_ms))
    except Exception as e:  # playwright's TimeoutError
        d = save_failure(f"wait_for-{int(time.time())}", page)
        raise AssertionError(f"{what} ({selector}) not visible after {budget_ms(timeout_ms)} ms; "
                             f"screenshot and server log in {d}: {str(e).splitlines()[0]}") from None
    return loc


def goto(page, path: str = "", **query) -> None:
    """Open app page `path` (e.g. "playground") with query parameters and wait for it to finish."""
    q = urllib.parse.urlencode(query, doseq=True)
    page.goto(f"/{path}" + (f"?{q}" if q else ""))
    wait_idle(page)


def shoot(page, name: str, full_page: bool = True, max_height: int = 4000) -> Path:
    """Save a screenshot as <SCREENSHOTS>/<name>.png (full_page: the whole scrolled app); tests never write
    docs/screenshots/ unless MLT_SCREENSHOTS says so.

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
    h.wait_for, h.budget_ms, h.save_failure = wait_for, budget_ms, save_failure
    return h
