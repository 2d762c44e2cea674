"""The realistic demo (multilingual-e5-small): build time, start.sh -> first prediction, live probe vs bare forwards.

    python bench/bench_demo.py build  [--dir DIR]          # fresh `python -m mlt_core demo` into DIR, per stage
    python bench/bench_demo.py start  [--dir DIR]          # fresh models dir: start.sh -> the app answers a pair
    python bench/bench_demo.py probe  [--models DIR]       # probe of demo-en + demo-hi vs 2 bare HF forwards

`probe` floor: 1.3x of two bare forwards (sdpa, logits only) on the same two checkpoints, same run.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import ROOT, timeit

EN = ("A man is playing a guitar on the street.", "A person is making music.")


def build(d: Path) -> None:
    t0 = time.time()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-u", "-m", "mlt_core", "demo", "--output-dir", str(d), "--force",
                             "--source", "wheel"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    marks = []
    for line in proc.stdout:
        if re.search(r"saved |LAPE neurons|built ", line):
            marks.append((time.time() - t0, line.strip()[:110]))
            print(f"{marks[-1][0]:7.0f}s  {marks[-1][1]}", flush=True)
    assert proc.wait() == 0, "the build failed"
    print(f"\nload average {os.getloadavg()[0]:.1f}; total {time.time() - t0:.0f}s")
    for n in ("demo-en", "demo-hi", "demo-en-hi"):
        m = json.loads((d / n / "mlt.json").read_text())
        print(f"| {n} | {m['wall_time_s']:.0f}s | " + " | ".join(f"{m['metrics']['accuracy'][l]:.3f}"
                                                         for l in ("en", "hi", "fr", "es")) + " |")


def start(d: Path, port: int = 8599) -> None:
    """start.sh against an empty models dir: seconds to a healthy server and to a first answered pair."""
    from playwright.sync_api import sync_playwright

    env = {**os.environ, "MLT_MODELS_DIR": str(d), "HF_HUB_OFFLINE": "1"}
    t0 = time.time()
    log = open(d.parent / "start.log", "wb")
    proc = subprocess.Popen(["bash", "scripts/start.sh", "--server.port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            assert proc.poll() is None, (d.parent / "start.log").read_text()[-2000:]
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(1)
        t_up = time.time() - t0
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"], headless=True)
            pg = b.new_page(viewport={"width": 1280, "height": 800})
            pg.goto(f"{url}/playground?models=demo-en&premise={EN[0]}&hypothesis={EN[1]}")
            pg.get_by_text("entailment").first.wait_for(timeout=600_000)
            t_pred = time.time() - t0
            b.close()
        print(f"start.sh -> app healthy: {t_up:.0f}s; -> first prediction on the Playground: {t_pred:.0f}s "
              f"(load average {os.getloadavg()[0]:.1f})")
        t = time.time()
        while not all((d / n / "config.json").is_file() for n in ("demo-hi", "demo-en-hi")) and time.time() - t < 3600:
            time.sleep(5)
        print(f"start.sh -> whole realistic demo in the app: {time.time() - t0:.0f}s")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)


def probe(models: Path, repeat: int) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification

    from mlt_core.api import probe as mlt_probe
    from mlt_core.model.checkpoint import load_checkpoint

    cks = [load_checkpoint(models / n) for n in ("demo-en", "demo-hi")]
    bare = [AutoModelForSequenceClassification.from_pretrained(models / n).eval() for n in ("demo-en", "demo-hi")]
    enc = cks[0].tokenizer(*EN, return_tensors="pt")

    def bare2():
        with torch.inference_mode():
            for m in bare:
                m(**enc).logits.softmax(-1)

    t_bare = timeit(bare2, repeat)
    t_probe = timeit(lambda: mlt_probe(cks, *EN), repeat)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {enc['input_ids'].shape[1]} tokens, "
          f"multilingual-e5-small x 2 (12 x 12 heads), load average {os.getloadavg()[0]:.1f}\n")
    print("| what | median ms | ratio |\n|---|---|---|")
    print(f"| 2 bare HF forwards (sdpa, logits) | {t_bare * 1e3:.1f} | 1.00 |")
    print(f"| mlt probe, 2 models: all views + layer similarity | {t_probe * 1e3:.1f} | **{t_probe / t_bare:.2f}** |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["build", "start", "probe"])
    ap.add_argument("--dir", default=None, help="build/start: a fresh folder (default: a temp dir)")
    ap.add_argument("--models", default=str(ROOT / "models"), help="probe: folder with demo-en, demo-hi")
    ap.add_argument("--repeat", type=int, default=10)
    a = ap.parse_args()
    d = Path(a.dir or tempfile.mkdtemp(prefix="mlt-bench-demo-")) / "models"
    if a.what == "build":
        build(d)
    elif a.what == "start":
        d.mkdir(parents=True, exist_ok=True)
        start(d)
    else:
        probe(Path(a.models), a.repeat)


if __name__ == "__main__":
    main()
