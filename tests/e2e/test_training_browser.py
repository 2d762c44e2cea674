"""The sidebar's "Train a checkpoint" panel in a real headless Chromium: fill the form like a user, start a
real (tiny, CPU) training job, watch its progress, see the new checkpoint on the Home page, and get a clear
message (not a traceback) for a name that is taken. Screenshots go to .e2e-artifacts/screenshots/.

The job writes a checkpoint, so this module runs its own server on a temporary models folder (never the
real models/): a tiny random base checkpoint, MLT_MODELS_DIR pointing there, OMP_NUM_THREADS=1.
"""
from __future__ import annotations

import json
import os
import re
import signal
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from mlt_core.model import checkpoint
from mlt_core.training import jobs

NAME = "browser-run"
STEPS = 8
JOB_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def train_app(e2e, tmp_path_factory):
    """(url, models dir): a second `streamlit run app.py` on a temp models folder holding a tiny base.

    At teardown every job still active there is resumed (if the test paused it) and cancelled."""
    from tiny import make_tiny_checkpoint

    root = tmp_path_factory.mktemp("e2e-train")
    models = root / "models"
    make_tiny_checkpoint(models / "tiny-xlmr", seed=0,
                         meta={"role": "base", "base": "tiny-xlmr", "train_langs": [], "method": "random-init"})
    with e2e.start_app(models, root / "streamlit.log", {"OMP_NUM_THREADS": "1"}) as url:
        try:
            yield url, models
        finally:
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(checkpoint, "MODELS_DIR", models)
                for job in jobs.list_jobs():
                    if job["status"] in jobs.ACTIVE:
                        _signal_group(job["pid"], signal.SIGCONT)
                        jobs.cancel_job(job["id"], grace_s=2)


@pytest.fixture
def train_page(e2e, _browser, train_app):
    with e2e.open_page(_browser, train_app[0]) as pg:
        yield pg


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)  # the job runs in its own process group (jobs.start_job: start_new_session)
    except ProcessLookupError:
        pass


@contextmanager
def _paused(pid: int):
    """Hold the training process still (SIGSTOP) so that the page can be looked at mid-run; resume on exit."""
    _signal_group(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        _signal_group(pid, signal.SIGCONT)


def _sidebar(page):
    return page.locator('[data-testid="stSidebar"]')


def _open_training_panel(page, e2e) -> None:
    """Expand the sidebar's "Train a checkpoint" expander (app.py) if it is closed."""
    details = _sidebar(page).locator('[data-testid="stExpander"] details', has_text="Train a checkpoint").first
    details.wait_for()
    if details.get_attribute("open") is None:
        details.locator("summary").first.click()
    page.locator(".st-key-train_start button").wait_for()
    e2e.wait_idle(page)


def _commit_text(page, e2e, key: str, value) -> None:
    box = page.locator(f".st-key-{key} input")
    box.fill(str(value))
    box.press("Enter")
    e2e.wait_idle(page)
    assert box.input_value() == str(value), key


def _pick(page, e2e, key: str, option: str) -> None:
    """Choose `option` in the selectbox or multiselect with key `key` (react-aria combobox)."""
    box = page.locator(f".st-key-{key} input")
    box.click()
    if box.get_attribute("aria-expanded") != "true":
        box.press("ArrowDown")  # a selectbox's list opens on ArrowDown, not on a click
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")
    e2e.wait_idle(page)


def _fill_form(page, e2e, base: Path, name: str) -> None:
    """Fill the form as tests/test_training_sidebar.py does: a folder as base, hi, full, batch 8, STEPS steps."""
    _commit_text(page, e2e, "train_base_other", base)
    langs = page.locator(".st-key-train_langs")
    for tag in langs.locator("[data-tag]").all():  # the default ("en") out, then hi in
        label = tag.get_attribute("aria-label")
        langs.locator(f'button[aria-label="Remove {label}"]').click()
        e2e.wait_idle(page)
    _pick(page, e2e, "train_langs", "hi")
    assert [t.get_attribute("aria-label") for t in langs.locator("[data-tag]").all()] == ["hi"]
    _pick(page, e2e, "train_method", "full")
    assert page.locator(".st-key-train_method input").input_value() == "full"
    _commit_text(page, e2e, "train_batch_size", 8)
    _commit_text(page, e2e, "train_max_steps", STEPS)
    _commit_text(page, e2e, "train_name", name)


def _wait_for_file(path: Path, ready, what: str, timeout_s: float = JOB_TIMEOUT_S, pid: int | None = None):
    """Poll a file the job writes until `ready(text)` is truthy; return that value. With `pid`: fail
    early, with the job's log, if that process has ended meanwhile."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            got = ready(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            got = None
        if got:
            return got
        if pid is not None and not _running(pid):
            log = path.parent / "log.txt"
            pytest.fail(f"the job ended before its {what}:\n{log.read_text(errors='replace')[-3000:]}")
        assert time.monotonic() < deadline, f"no {what} in {path} after {timeout_s}s"
        time.sleep(0.02)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _started_job(models: Path) -> dict:
    """job.json of the one job in the temp models folder, once its process is running."""
    jobs_dir = models / ".jobs"
    deadline = time.monotonic() + 30
    while not (jobs_dir.is_dir() and any(jobs_dir.glob("*/job.json"))):
        assert time.monotonic() < deadline, "no job started"
        time.sleep(0.05)
    (job_file,) = jobs_dir.glob("*/job.json")
    return _wait_for_file(job_file, lambda t: (j := json.loads(t))["status"] == "running" and j["pid"] and j,
                          "running job")


def _events(text: str) -> list[str]:
    """The events in progress.jsonl's text (a line being written is skipped)."""
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line).get("event"))
        except ValueError:
            continue
    return out


def _shoot_with_sidebar(page, e2e, name: str) -> Path:
    """e2e.shoot, with the viewport first made tall enough for the whole sidebar (it scrolls on its own)."""
    size = page.viewport_size
    h = page.evaluate("""() => document.querySelector('[data-testid="stSidebarContent"]').scrollHeight""")
    page.set_viewport_size({"width": size["width"], "height": int(min(max(h + 20, size["height"]), 3000))})
    try:
        return e2e.shoot(page, name)
    finally:
        page.set_viewport_size(size)


def _no_traceback(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    assert "Traceback" not in page.locator('[data-testid="stApp"]').inner_text()


def test_train_from_the_sidebar_and_see_the_new_checkpoint(train_page, train_app, e2e):
    page, (_, models) = train_page, train_app
    base = models / "tiny-xlmr"
    sidebar = _sidebar(page)
    e2e.goto(page)
    _open_training_panel(page, e2e)
    assert sidebar.get_by_text("No training job yet.").is_visible()
    _fill_form(page, e2e, base, NAME)
    page.locator(".st-key-train_start button").click()

    # the job runs in the background; hold it after its first evaluation so the running state can be seen
    job = _started_job(models)
    progress = models / ".jobs" / job["id"] / "progress.jsonl"
    _wait_for_file(progress, lambda t: "eval" in _events(t), "first evaluation", pid=job["pid"])
    with _paused(job["pid"]):
        sidebar.get_by_text(f"{NAME} on {job['device']}: running").wait_for()
        sidebar.get_by_text(re.compile(rf"^step [1-{STEPS}] / {STEPS}\b")).wait_for()
        sidebar.locator('[data-testid="stVegaLiteChart"]').locator("canvas, svg").first.wait_for()  # loss chart
        sidebar.locator(".st-key-train_cancel button").wait_for()
        _no_traceback(page)
        _shoot_with_sidebar(page, e2e, "training-sidebar-running")
        # a refresh mid-run loses nothing: the new session follows the job from its files on disk. (It also
        # refills the Home page's 5-second checkpoint cache just before the job ends: the app must clear
        # that cache when the job ends, or the rerun below would still list the old checkpoints.)
        page.reload()
        e2e.wait_idle(page)
        _open_training_panel(page, e2e)
        sidebar.get_by_text(f"{NAME} on {job['device']}: running").wait_for()

    # when the job ends the whole app reruns: the new checkpoint is on the Home page without any click
    sidebar.get_by_text(f"{NAME} on {job['device']}: finished").wait_for(timeout=JOB_TIMEOUT_S * 1000)
    sidebar.get_by_text(f"step {STEPS} / {STEPS}", exact=True).wait_for()
    main = page.locator('[data-testid="stMain"]')
    # the checkpoint table draws on a canvas; its cells are also in an accessible <table> inside it
    main.locator("[data-testid=stDataFrame] td[role=gridcell]", has_text=re.compile(rf"^{NAME}$")) \
        .first.wait_for(state="attached", timeout=30_000)
    e2e.wait_idle(page)
    picker = page.locator(".st-key-home_models input")  # "Models to compare" offers it too
    picker.click()
    if picker.get_attribute("aria-expanded") != "true":
        picker.press("ArrowDown")
    page.get_by_role("option", name=NAME, exact=True).wait_for()
    picker.press("Escape")
    _no_traceback(page)
    _shoot_with_sidebar(page, e2e, "training-sidebar-finished")

    out = models / NAME
    assert (out / "model.safetensors").is_file()
    meta = json.loads((out / "mlt.json").read_text(encoding="utf-8"))
    assert meta["method"] == "full" and meta["train_langs"] == ["hi"] and meta["base"] == str(base)
    assert meta["hyperparameters"]["steps"] == STEPS and meta["hyperparameters"]["batch_size"] == 8

    # the same name again: a clear message naming it, no traceback, no second job
    _fill_form(page, e2e, base, NAME)
    page.locator(".st-key-train_start button").click()
    e2e.wait_idle(page)
    alert = sidebar.locator('[data-testid="stAlert"]', has_text="already exists")
    alert.wait_for()
    assert NAME in alert.inner_text()
    _no_traceback(page)
    assert len(list((models / ".jobs").glob("*/job.json"))) == 1
