"""Playground latency on two full-size xlm-roberta-base architectures (random weights).

    python bench/bench_app.py [--tokens 64] [--repeats 5] [--no-browser]
    python bench/bench_app.py --weight-only [--app-root OTHER_CHECKOUT]   # bytes per rerun, bertviz, RSS

Measured in one run, against baselines measured in the same run:
  baseline   two bare forwards: plain AutoModelForSequenceClassification (default sdpa attention,
             logits only), one per model, on the same ~64-token pair;
  mlt        the Playground from a new pair ("pressing enter") to ALL views rendered: one script run
             draws the predictions and every tab (entropy, similarity, tokens, attention pattern,
             bertviz, language neurons) from the two cached forwards (a run draws the open tab only, so
             each tab is timed as its own rerun); then the cost of opening another
             tab (a fragment rerun that recomputes nothing). AppTest timing (in-process script runs:
             no browser, no websocket) and, when /usr/bin/chromium exists, a real browser (typing +
             Ctrl+Enter until the open tab is drawn, then each tab clicked until its view is visible;
             bertviz draws its SVG when shown or in idle time from 1.5 s on, so it is also timed at a
             speaker's pace); and Streamlit's own browser overhead on an empty page;
  streamlit  an empty page (Streamlit's own per-run overhead) under AppTest;
  rerun      a display option changed (normalisation toggle, layer/head): must run no model
             (FORWARD_CALLS counted).
Also reports the bertviz page size for this 12x12 model at 64 tokens. Prints a markdown table.
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from common import full_size_xlmr, pair_of_length  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
TABS_AFTER_FIRST = ["Similarity 1 vs 2", "Tokens", "Attention pattern", "bertviz"]
N_CHARTS = 5  # a run draws the open tab only: 2 probability bars, 2 entropy heatmaps + their difference
SUBJECTS = ["someone", "a person", "nobody", "the boy", "a girl", "the man", "a child", "the woman", "people"]


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def variants(premise: str, hypothesis: str, n: int) -> list[tuple[str, str]]:
    """n different pairs of about the same length (a new pair = a new forward; nothing cached)."""
    first, rest = hypothesis.split(" ", 1) if " " in hypothesis else (hypothesis, "")
    return [(premise, f"{SUBJECTS[i % len(SUBJECTS)]} {rest}".strip() + ("." * (i // len(SUBJECTS))))
            for i in range(n)]


class BareForwards:
    """The baseline: plain AutoModelForSequenceClassification (default sdpa attention, logits only)."""

    def __init__(self, paths):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.tok = AutoTokenizer.from_pretrained(paths[0])
        self.models = [AutoModelForSequenceClassification.from_pretrained(p).eval() for p in paths]

    def __call__(self, pair, repeats: int = 3) -> float:
        """Median seconds of one forward of each model on `pair` (sequential, like the app).

        Run in a worker thread, as Streamlit runs a page: on an oversubscribed machine the main
        thread's OpenMP team was measured 20x slower (2.5 s vs 0.11 s per forward), which would
        flatter the app.
        """
        import threading

        import torch

        enc = self.tok(*pair, return_tensors="pt")
        ts: list[float] = []

        def work() -> None:
            with torch.inference_mode():
                for m in self.models:
                    m(**enc)  # warm
                for _ in range(repeats):
                    t = time.perf_counter()
                    for m in self.models:
                        m(**enc)
                    ts.append(time.perf_counter() - t)

        th = threading.Thread(target=work)
        th.start()
        th.join()
        return med(ts)


def apptest_playground(models_dir: Path, names, pairs, base: BareForwards) -> dict:
    """Time the Playground under AppTest: first load, new pair -> all views, tab switches, option reruns."""
    import streamlit as st
    from streamlit.runtime.scriptrunner import script_runner
    from streamlit.testing.v1 import AppTest

    import mlt_core.model.checkpoint as ckpt_mod
    from mlt_core.forward import FORWARD_CALLS

    ckpt_mod.MODELS_DIR = models_dir

    def run_main(main_script_path: str) -> None:  # route every AppTest run through app.py, as a server does
        exec(compile(Path(main_script_path).read_text(), main_script_path, "exec"),
             {"__name__": "__main__", "__file__": main_script_path})

    script_runner._mpa_v1 = run_main
    st.cache_data.clear()
    st.cache_resource.clear()
    out: dict = {"all": [], "tabs": {t: [] for t in TABS_AFTER_FIRST}, "forwards": [], "base": []}
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=900).run()
    at.query_params.clear()
    at.query_params.update({"models": list(names), "premise": pairs[0][0], "hypothesis": pairs[0][1]})
    t = time.perf_counter()
    at.switch_page("pages/2_Playground.py").run()
    out["load"] = time.perf_counter() - t
    assert not at.exception, at.exception
    for p, h in pairs[1:]:
        at.session_state["pg_view"] = "Attention entropy"
        at.run()
        out["base"].append(base((p, h)))  # the baseline, measured right before (same machine load)
        n = FORWARD_CALLS["n"]
        at.text_area(key="pg_premise").set_value(p)
        at.text_area(key="pg_hypothesis").set_value(h)
        t0 = time.perf_counter()
        at.run()
        out["all"].append(time.perf_counter() - t0)
        assert len(at.metric) == 2 and not at.exception, (at.exception, [e.value for e in at.error])
        shown = {"charts": len(at.get("vega_lite_chart")), "bertviz": len(at.get("iframe")),
                 "token chips": sum('class="tok ' in e.proto.body for e in at.get("html"))}
        assert shown == {"charts": N_CHARTS, "bertviz": 0, "token chips": 0}, shown  # the open tab only
        for tab in TABS_AFTER_FIRST:
            at.session_state["pg_view"] = tab
            t1 = time.perf_counter()
            at.run()
            out["tabs"][tab].append(time.perf_counter() - t1)
        out["forwards"].append(FORWARD_CALLS["n"] - n)
    n = FORWARD_CALLS["n"]
    opts = []
    at.session_state["pg_view"] = "Attention entropy"
    at.run()
    for v in (False, True, False):
        t0 = time.perf_counter()
        at.toggle(key="pg_norm").set_value(v).run()
        opts.append(time.perf_counter() - t0)
    at.session_state["pg_view"] = "Attention pattern"
    at.run()
    for layer, head in ((0, 0), (5, 3), (11, 11)):
        at.selectbox(key="pg_layer").set_value(layer)
        t0 = time.perf_counter()
        at.selectbox(key="pg_head").set_value(head).run()
        opts.append(time.perf_counter() - t0)
    out["option_rerun"] = opts
    out["option_forwards"] = FORWARD_CALLS["n"] - n

    empty = AppTest.from_string("import streamlit as st\nst.write('hello')")
    ts = []
    for _ in range(10):
        t0 = time.perf_counter()
        empty.run()
        ts.append(time.perf_counter() - t0)
    out["empty"] = med(ts[2:])
    return out


def bertviz_sizes(path: Path, pair) -> dict:
    import numpy as np

    from mlt_core.model.checkpoint import load_checkpoint
    from mlt_core.forward import forward
    from mlt_core.charts.bertviz import bertviz_html

    cache = forward(load_checkpoint(path), [pair], capture={"attn"})
    toks = cache.tokens[0]
    b = cache.seq_ids[0].index(1)
    attn = np.stack([cache[f"blocks.{l}.attn.pattern"][0].numpy() for l in range(12)])  # [layer, head, q, k]
    sizes = {"tokens": len(toks)}
    for view in ("head", "model"):
        for layers in ([9, 10, 11], list(range(12))):
            page = bertviz_html(view, toks, attn[layers], layers, sentence_b_start=b)
            sizes[(view, len(layers))] = len(page.html)
    return sizes


EMPTY_APP = """import streamlit as st
h = st.text_area("Hypothesis (Ctrl+Enter to run)", key="h")
st.query_params["hypothesis"] = h
st.write(h)
"""
STATE_JS = "() => document.querySelector('[data-testid=\"stApp\"]')?.getAttribute('data-test-script-state')"
URL_HAS = "(h) => new URLSearchParams(location.search).get('hypothesis') === h"


@contextmanager
def served(script: str, cwd: Path, env: dict, procs: list | None = None):
    """`streamlit run script` headless on a free port; yields its URL; stopped on exit (procs: gets the Popen)."""
    import signal
    import socket
    import subprocess
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    if procs is not None:
        procs.append(proc)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def chromium_page(pw):
    browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"])
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.set_default_timeout(600_000)
    return browser, page


def browser_empty(n: int = 8) -> float | None:
    """Streamlit's own cost in the browser: a page with one text area, type + Ctrl+Enter until the run has
    published the URL and finished (the same measurement as the Playground's)."""
    import tempfile

    if not CHROMIUM.exists():
        return None
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as d, sync_playwright() as pw:
        (Path(d) / "empty.py").write_text(EMPTY_APP)
        with served("empty.py", Path(d), dict(os.environ)) as url:
            browser, page = chromium_page(pw)
            page.goto(url)
            box = page.get_by_label("Hypothesis (Ctrl+Enter to run)")
            box.wait_for()
            ts = []
            for i in range(n):
                box.fill(f"someone is eating {i}")
                t0 = time.perf_counter()
                box.press("Control+Enter")
                page.wait_for_function(URL_HAS, arg=f"someone is eating {i}", polling=10)
                page.wait_for_function(f"({STATE_JS})() === 'notRunning'", polling=20)
                ts.append(time.perf_counter() - t0)
            browser.close()
    return med(ts[2:])


def browser_playground(models_dir: Path, names, pairs, base: BareForwards) -> dict | None:
    """Real Chromium against `streamlit run app.py`: type + Ctrl+Enter until idle and drawn."""
    import urllib.parse

    if not CHROMIUM.exists():
        return None
    from playwright.sync_api import sync_playwright

    out: dict = {"first": [], "all": [], "tabs": {t: [] for t in TABS_AFTER_FIRST}, "base": []}
    with served("app.py", ROOT, {**os.environ, "MLT_MODELS_DIR": str(models_dir)}) as url, \
            sync_playwright() as pw:
        browser, page = chromium_page(pw)
        state = STATE_JS

        def until_idle(extra_selector: str | None = None) -> None:
            page.wait_for_function(f"({state})() === 'notRunning'", polling=20)
            if extra_selector:
                page.locator(extra_selector).first.wait_for()

        q = urllib.parse.urlencode({"models": list(names), "premise": pairs[0][0], "hypothesis": pairs[0][1]},
                                   doseq=True)
        t = time.perf_counter()
        page.goto(f"{url}/Playground?{q}")
        page.locator(".st-key-pg_card_1 [data-testid='stMetricValue']").wait_for()
        until_idle(".st-key-pg_entropy_chart_1 canvas, .st-key-pg_entropy_chart_1 svg")
        out["load"] = time.perf_counter() - t
        drawn = {"Similarity 1 vs 2": ".st-key-pg_similarity_chart canvas, .st-key-pg_similarity_chart svg",
                 "Tokens": ".st-key-pg_tokens_1 .tok",
                 "Attention pattern": ".st-key-pg_attn_chart_1 canvas, .st-key-pg_attn_chart_1 svg"}
        url_has = URL_HAS
        for p, h in pairs[1:]:
            page.get_by_role("tab", name="Attention entropy").click()
            until_idle(".st-key-pg_entropy_chart_1 canvas, .st-key-pg_entropy_chart_1 svg")
            assert page.get_by_label("Premise").input_value() == p  # variants differ in the hypothesis only
            box = page.get_by_label("Hypothesis (Ctrl+Enter to run)")
            box.fill(h)
            out["base"].append(base((p, h)))
            t0 = time.perf_counter()
            box.press("Control+Enter")
            page.wait_for_function(url_has, arg=h, polling=10)  # the run's last act: publish the URL
            until_idle(".st-key-pg_entropy_chart_1 canvas, .st-key-pg_entropy_chart_1 svg")
            first = time.perf_counter() - t0
            total = first
            for tab in TABS_AFTER_FIRST:
                t1 = time.perf_counter()
                page.get_by_role("tab", name=tab).click()  # drawn in the same run: wait until visible
                if tab == "bertviz":
                    page.frame_locator("iframe[title^='bertviz']").locator("svg text").first.wait_for()
                else:
                    page.locator(drawn[tab]).first.wait_for()
                dt = time.perf_counter() - t1
                out["tabs"][tab].append(dt)
                total += dt
                until_idle()  # the tab switch's fragment rerun (it only updates the URL): not timed
            out["first"].append(first)
            out["all"].append(total)
        # at a speaker's pace: Enter, look at the predictions for 2 s, then open bertviz
        out["bertviz_paced"] = []
        for p, h in pairs[1:]:
            page.get_by_role("tab", name="Attention entropy").click()
            until_idle(".st-key-pg_entropy_chart_1 canvas, .st-key-pg_entropy_chart_1 svg")
            box = page.get_by_label("Hypothesis (Ctrl+Enter to run)")
            box.fill(h + " ")
            box.press("Control+Enter")
            page.wait_for_function(url_has, arg=h + " ", polling=10)
            until_idle(".st-key-pg_entropy_chart_1 canvas, .st-key-pg_entropy_chart_1 svg")
            page.wait_for_timeout(2000)
            t1 = time.perf_counter()
            page.get_by_role("tab", name="bertviz").click()
            page.frame_locator("iframe[title^='bertviz']").locator("svg text").first.wait_for()
            out["bertviz_paced"].append(time.perf_counter() - t1)
            until_idle()
        browser.close()
    return out


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the Streamlit server), MB."""
    import subprocess

    pids = [str(pid)] + subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    total = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def browser_weight(models_dir: Path, names, pair, long_pairs, app_root: Path = ROOT) -> dict | None:
    """Bytes the server sends per rerun (websocket frames), time to first view, bertviz draw time, server RSS.

    app_root: the app to serve (another checkout measures "before")."""
    import urllib.parse

    if not CHROMIUM.exists():
        return None
    from playwright.sync_api import sync_playwright

    out: dict = {"tabs": {}}
    procs: list = []
    env = {**os.environ, "MLT_MODELS_DIR": str(models_dir), "PYTHONPATH": str(app_root)}
    with served("app.py", app_root, env, procs) as url, sync_playwright() as pw:
        browser, page = chromium_page(pw)
        page.set_viewport_size({"width": 1280, "height": 800})
        got = {"n": 0}
        page.on("websocket", lambda ws: ws.on("framereceived", lambda f: got.__setitem__("n", got["n"] + len(f))))

        def idle(selector: str | None = None) -> None:
            page.wait_for_function(f"({STATE_JS})() === 'notRunning'", polling=20)
            if selector:
                page.locator(selector).first.wait_for()
            page.wait_for_timeout(300)
            page.wait_for_function(f"({STATE_JS})() === 'notRunning'", polling=20)

        entropy = ".st-key-pg_entropy_chart_1 canvas, .st-key-pg_entropy_chart_1 svg"
        q = urllib.parse.urlencode({"models": list(names), "premise": pair[0], "hypothesis": "warm up"}, doseq=True)
        t = time.perf_counter()
        page.goto(f"{url}/Playground?{q}")
        page.locator(".st-key-pg_card_1 [data-testid='stMetricValue']").wait_for()
        idle(entropy)
        out["first_view"] = time.perf_counter() - t
        out["rss_first"] = rss_mb(procs[0].pid)

        def type_pair(p: str, h: str) -> int:
            for label, text in (("Premise", p), ("Hypothesis (Ctrl+Enter to run)", h)):
                box = page.get_by_label(label)
                if box.input_value() != text:
                    box.fill(text)
            got["n"] = 0
            page.get_by_label("Hypothesis (Ctrl+Enter to run)").press("Control+Enter")
            page.wait_for_function(URL_HAS, arg=h, polling=10)
            idle(entropy)
            return got["n"]

        say = lambda *a: print("[weight]", *a, file=sys.stderr, flush=True)  # noqa: E731
        say(f"first view {out['first_view']:.1f}s")
        out["new_pair"] = type_pair(*pair)
        say("new pair", out["new_pair"])
        for tab in ("Similarity 1 vs 2", "Tokens", "Attention pattern", "bertviz", "Language neurons"):
            got["n"] = 0
            page.get_by_role("tab", name=tab).click()
            idle()
            out["tabs"][tab] = got["n"]
            say(tab, got["n"])
        # bertviz model view (default: the last 3 layers): draw time measured in the frame
        out["bertviz"] = {}
        page.get_by_role("tab", name="bertviz").click()
        idle()
        for kind in ("head", "model"):
            t1 = time.perf_counter()
            page.get_by_text(f"{kind} view", exact=True).click()
            idle()
            page.frame_locator("iframe[title^='bertviz']").locator("svg text").first.wait_for()
            frame = [f for f in page.frames if f.url == "about:srcdoc"][-1]
            try:  # this app's shim records its draw time; an older checkout's does not
                frame.wait_for_function("() => window.mltDrawMs !== undefined", polling=20, timeout=30_000)
                draw = frame.evaluate("() => window.mltDrawMs")
            except Exception:  # noqa: BLE001
                draw = float("nan")
            out["bertviz"][kind] = {"draw_ms": draw,
                                    "click_to_drawn": time.perf_counter() - t1,
                                    "svg_nodes": frame.evaluate("() => document.querySelectorAll('svg *').length")}
            say("bertviz", kind, out["bertviz"][kind])
        page.get_by_role("tab", name="Attention entropy").click()
        idle(entropy)
        for p, h in long_pairs:  # 20 long pairs: memory must stay bounded
            type_pair(p, h)
        out["rss_long"] = rss_mb(procs[0].pid)
        browser.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5, help="new pairs timed (after one warm-up pair)")
    ap.add_argument("--models-dir", default=os.environ.get("MLT_BENCH_MODELS", "/tmp/mlt-bench-app-models"),
                    help="where the two random full-size checkpoints are built (kept for reuse)")
    ap.add_argument("--no-browser", action="store_true", help="skip the Chromium timing")
    ap.add_argument("--weight-only", action="store_true",
                    help="only the browser weight run: bytes per rerun, first view, bertviz draw, RSS")
    ap.add_argument("--app-root", default=str(ROOT), help="the checkout to serve for the weight run (before/after)")
    ap.add_argument("--long-tokens", type=int, default=400)
    ap.add_argument("--long-pairs", type=int, default=20)
    args = ap.parse_args()

    import torch
    from transformers import AutoTokenizer

    models_dir = Path(args.models_dir)
    names = ["xlmr-base-a", "xlmr-base-b"]
    t = time.perf_counter()
    paths = [full_size_xlmr(models_dir / n, seed=i) for i, n in enumerate(names)]
    print(f"checkpoints ready in {time.perf_counter() - t:.0f}s: {', '.join(map(str, paths))}", file=sys.stderr)
    tok = AutoTokenizer.from_pretrained(paths[0])
    pairs = variants(*pair_of_length(tok, args.tokens), args.repeats + 1)
    n_tok = [len(tok(*p)["input_ids"]) for p in pairs]

    if args.weight_only:
        longs = variants(*pair_of_length(tok, args.long_tokens), args.long_pairs)
        w = browser_weight(models_dir, names, pairs[1], longs, Path(args.app_root))
        print(f"\n### Playground weight: 2 x xlm-roberta-base architecture, {n_tok[1]}-token pair, app at "
              f"{args.app_root}, 1280 x 800\n")
        print("| measurement | value |\n|---|---|")
        print(f"| time to first view (open the Playground link -> cards + entropy drawn) | {w['first_view']:.1f} s |")
        print(f"| bytes sent: new {n_tok[1]}-token pair (Ctrl+Enter -> run finished) | {w['new_pair'] / 1e6:.2f} MB |")
        for tab, b in w["tabs"].items():
            print(f"| bytes sent: then click tab {tab} | {b / 1e6:.3f} MB |")
        for kind, v in w["bertviz"].items():
            print(f"| bertviz {kind} view (last 3 layers): draw in the frame / click -> drawn / SVG nodes | "
                  f"{v['draw_ms']:.0f} ms / {v['click_to_drawn']:.1f} s / {v['svg_nodes']:,} |")
        print(f"| server RSS after first view / after {args.long_pairs} more {args.long_tokens}-token pairs | "
              f"{w['rss_first']:.0f} MB / {w['rss_long']:.0f} MB |")
        return
    baseline = BareForwards(paths)
    sizes = bertviz_sizes(paths[0], pairs[1])
    app = apptest_playground(models_dir, names, pairs, baseline)
    web = None if args.no_browser else browser_playground(models_dir, names, pairs, baseline)
    empty_web = None if args.no_browser else browser_empty()
    base = med(app["base"] + (web["base"] if web else []))

    r = lambda x: f"{x * 1000:.0f} ms"  # noqa: E731
    print(f"\n### Playground latency: 2 x xlm-roberta-base architecture, {min(n_tok)}-{max(n_tok)} tokens, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}\n")
    def ratio(xs: list[float], bases: list[float]) -> str:  # per repetition: each against its own baseline
        return f"{med([x / b for x, b in zip(xs, bases)]):.2f}x"

    print("| measurement | median | vs 2 bare forwards (measured just before) |")
    print("|---|---|---|")
    print(f"| baseline: 2 bare forwards (sdpa, logits only) | {r(base)} | 1.00x |")
    print(f"| Streamlit empty page (AppTest run) | {r(app['empty'])} | {app['empty'] / base:.2f}x |")
    print(f"| **AppTest: new pair -> all views rendered (one run)** | **{r(med(app['all']))}** | "
          f"**{ratio(app['all'], app['base'])}** |")
    for tab in TABS_AFTER_FIRST:
        print(f"| AppTest: then switch to tab {tab} (page rerun, no forward) | {r(med(app['tabs'][tab]))} | "
              f"{ratio(app['tabs'][tab], app['base'])} |")
    print(f"| AppTest: display option changed (toggle / layer / head) | {r(med(app['option_rerun']))} | "
          f"{med(app['option_rerun']) / base:.2f}x |")
    if web:
        if empty_web:
            print(f"| browser: Streamlit empty page (a text area; Ctrl+Enter -> run finished) | {r(empty_web)} | "
                  f"{empty_web / base:.2f}x |")
        print(f"| browser: new pair (Ctrl+Enter) -> predictions + entropy drawn | {r(med(web['first']))} | "
              f"{ratio(web['first'], web['base'])} |")
        for tab in TABS_AFTER_FIRST:
            print(f"| browser: then click tab {tab} -> visible | {r(med(web['tabs'][tab]))} | "
                  f"{ratio(web['tabs'][tab], web['base'])} |")
        print(f"| browser: at a speaker's pace (2 s after Enter) click tab bertviz -> visible | "
              f"{r(med(web['bertviz_paced']))} | {med(web['bertviz_paced']) / base:.2f}x |")
        print(f"| **browser: new pair -> every tab seen (Enter, then 4 tab clicks)** | **{r(med(web['all']))}** | **{ratio(web['all'], web['base'])}** |")
    print(f"\nFirst open (loading both checkpoints): AppTest {app['load']:.1f} s"
          + (f", browser {web['load']:.1f} s" if web else "") + ".")
    print(f"Model forwards per new pair: {sorted(set(app['forwards']))} (expected [2]); "
          f"during {len(app['option_rerun'])} display-option reruns: {app['option_forwards']} (expected 0).")
    kib = lambda b: f"{b / 1024:.0f} KiB"  # noqa: E731
    print(f"bertviz page for 12 layers x 12 heads at {sizes['tokens']} tokens (incl. ~318 KiB vendored d3 + jQuery): "
          f"head view {kib(sizes[('head', 3)])} (3 layers, default) / {kib(sizes[('head', 12)])} (12 layers); "
          f"model view {kib(sizes[('model', 3)])} / {kib(sizes[('model', 12)])}.")


if __name__ == "__main__":
    main()
