"""Issue 14: every hostile case answers with one `error: ...` line (exit 2) and leaves nothing behind."""
import json
import re
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from mlt_core.cli import main
from mlt_core.errors import MltError
from mlt_core.model import checkpoint

ROOT = Path(__file__).resolve().parent.parent
FAST = ["--max-steps", "2", "--batch-size", "8", "--train-size", "16", "--eval-limit", "4", "--evals", "0",
        "--max-length", "32", "--cpu"]


@pytest.fixture
def models(tmp_path, monkeypatch):
    d = tmp_path / "models"  # not created: a refused run must not create it either
    monkeypatch.setattr(checkpoint, "MODELS_DIR", d)
    monkeypatch.setenv("MLT_MODELS_DIR", str(d))
    return d


def _env(models):
    return {**os.environ, "MLT_MODELS_DIR": str(models), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}


def _everything(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*")) if d.exists() else []


# ------------------------------------------------------------------- 2, 4, 5: arguments checked before any work
@pytest.mark.parametrize("args, message", [
    (["--lr=-1e-3"], "--lr must be a positive number, not -0.001"),
    (["--lr=0"], "--lr must be a positive number, not 0"),  # never silently the default 2e-5
    (["--batch-size", "0"], "--batch-size must be at least 1, not 0"),
    (["--max-steps", "0", "--epochs", "0"], "nothing to train: --epochs 0 with --max-steps 0 is 0 steps"),
    (["--epochs=-1"], "nothing to train: --epochs -1"),
    (["--train-langs", "en,xx"], "language 'xx' is not in the sample data; available: en, hi, fr, es"),
    (["--name", "../evil"], "invalid checkpoint name '../evil'"),
    (["--name", "a/b"], "invalid checkpoint name 'a/b'"),
])
def test_bad_train_arguments_one_line_nothing_left(tiny_xlmr, models, capsys, args, message):
    argv = {"--base": str(tiny_xlmr), "--train-langs": "en", "--name": "bad"}
    for a in args:
        argv.pop(a.split("=")[0], None)
    flat = [x for kv in argv.items() for x in kv]
    assert main(["train", *flat, *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err, err
    assert err.count("\n") == 1
    assert not models.exists()  # no models/, no .runs/NAME, no lock


def test_lr_zero_refused_in_the_app_too(tiny_xlmr, models):
    from mlt_core.training import jobs

    with pytest.raises(MltError, match="--lr must be a positive number, not 0"):
        jobs.start_job({"base": str(tiny_xlmr), "train_langs": ["en"], "name": "z", "lr": 0.0})
    assert not models.exists()  # checked before the job lock: no job folder, no run folder


def test_explicit_lr_is_what_trains_and_is_recorded(tiny_xlmr, models):
    assert main(["train", "--base", str(tiny_xlmr), "--train-langs", "en", "--name", "lr", "--lr", "1e-3", *FAST]) == 0
    assert json.loads((models / "lr" / "mlt.json").read_text())["hyperparameters"]["lr"] == 1e-3
    assert _everything(models / ".runs") == []


def test_failed_run_removes_its_run_folder(tiny_xlmr, models, tmp_path, capsys):
    bad = tmp_path / "pairs.jsonl"
    bad.write_text(json.dumps({"premise": "A b.", "hypothesis": "C d.", "label": "entailment", "lang": "en"}) + "\n")
    assert main(["train", "--base", str(tiny_xlmr), "--train-langs", "hi", "--data", str(bad), "--name", "f",
                 *FAST]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "hi" in err
    assert _everything(models) == []  # no run folder, no lock, no checkpoint


# ------------------------------------------------------------------- 1: one run per name; a stale lock is taken over
def _start(models, tiny_xlmr, name, *extra):
    args = ["--base", str(tiny_xlmr), "--train-langs", "en", "--name", name, "--max-steps", "400", "--save-steps",
            "20", "--batch-size", "4", "--train-size", "60", "--eval-limit", "4", "--evals", "0", "--max-length",
            "32", "--cpu", *extra]
    proc = subprocess.Popen([sys.executable, "-m", "mlt_core", "train", *args], cwd=ROOT, env=_env(models),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, args


def _wait(cond, proc, what, timeout=180):
    deadline = time.time() + timeout
    while not cond():
        assert proc.poll() is None, proc.stdout.read().decode()
        assert time.time() < deadline, what
        time.sleep(0.05)


def test_second_run_refused_with_pid_then_sigkill_and_resume_takes_the_stale_lock(tiny_xlmr, models, capsys):
    from mlt_core.training import jobs
    from mlt_core.training.runlock import holder, lock_path

    proc, args = _start(models, tiny_xlmr, "same")
    run_dir, lock = models / ".runs" / "same", lock_path(models, "same")
    try:
        _wait(lambda: list(run_dir.glob("checkpoint-*/trainer_state.json")), proc, "no Trainer checkpoint")
        assert holder(models, "same") == proc.pid
        os.killpg(proc.pid, signal.SIGSTOP)  # paused, it still holds the lock; its files stop changing (it rotates checkpoints)
        before = _everything(models)
        # the CLI: refused at once, naming the holder; nothing of the winner's run touched
        t = time.time()
        assert main(["train", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and f"another run of same is in progress (pid {proc.pid})" in err
        assert time.time() - t < 20  # refused before loading anything
        assert main(["train", *args, "--resume"]) == 2  # --resume of a live run: refused too
        assert f"pid {proc.pid}" in capsys.readouterr().err
        # the app: its job is refused before any process starts
        with pytest.raises(MltError, match=f"pid {proc.pid}"):
            jobs.start_job(args)
        assert not (models / "same").exists()
        assert set(before) <= set(_everything(models))  # the winner's run still intact
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert lock.is_file() and lock.read_text().split()[0] == str(proc.pid)  # a stale lock stays on disk...
    assert holder(models, "same") is None  # ...but nobody holds it
    assert main(["train", *args, "--resume"]) == 0
    out = capsys.readouterr().out
    assert f"took over the stale lock of same (pid {proc.pid} is gone)" in out
    meta = json.loads((models / "same" / "mlt.json").read_text())
    assert meta["hyperparameters"]["steps"] == 400 and meta["resumed_from"].startswith("checkpoint-")
    assert not lock.exists() and not run_dir.exists() and _everything(models / ".runs") == []


# ------------------------------------------------------------------- 3: bytes that are not UTF-8, lone surrogates
def test_probe_latin1_bytes_on_the_command_line(tiny_xlmr, tmp_path):
    r = subprocess.run([sys.executable, "-m", "mlt_core", "probe", "--model", str(tiny_xlmr), "--premise",
                        "Le caf\xe9 est chaud.".encode("latin-1"), "--hypothesis", b"Il fait chaud."],
                       cwd=ROOT, env=_env(tmp_path / "m"), capture_output=True)
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert err.startswith("error: the premise holds byte 0xe9, which is not UTF-8, at character 7") and "Traceback" not in err


@pytest.mark.parametrize("text, what", [("caf\udce9", "byte 0xe9, which is not UTF-8"),
                                        ("lone \ud800 here", "a lone surrogate U+D800")])
def test_probe_api_refuses_text_the_tokenizer_cannot_take(tiny_xlmr, text, what):
    from mlt_core import probe

    with pytest.raises(MltError, match=re.escape("the hypothesis holds " + what)):
        probe([str(tiny_xlmr)], "A fine premise.", text)
    with pytest.raises(MltError, match="the premise is bytes, not text"):
        probe([str(tiny_xlmr)], b"caf\xe9", "x")


# ------------------------------------------------------------------- 6, 7: one "predictions mean nothing" rule
@pytest.mark.parametrize("meta, why", [({"role": "base"}, "role base"),
                                       ({"role": "fine-tuned", "hyperparameters": {"steps": 0}}, "0 training steps")])
def test_probe_flags_a_base_or_zero_step_checkpoint(tmp_path, capsys, meta, why):
    from tiny import make_tiny_checkpoint

    ck = make_tiny_checkpoint(tmp_path / "demo-base", meta={"base": "tiny", **meta})
    assert main(["probe", "--model", str(ck), "--premise", "A man eats.", "--hypothesis", "He eats.", "--json"]) == 0
    m = json.loads(capsys.readouterr().out)["models"][0]
    assert m["untrained_head"] is True
    assert m["warnings"] == [f"UNTRAINED HEAD: demo-base's classifier was never trained (mlt.json: {why}); its "
                             "predictions are noise, and comparing against it is meaningless"]
    assert main(["probe", "--model", str(ck), "--premise", "A man eats.", "--hypothesis", "He eats."]) == 0
    assert "   ! UNTRAINED HEAD: demo-base" in capsys.readouterr().out
    assert checkpoint.load_checkpoint(ck).head_is_noise and not checkpoint.load_checkpoint(ck).untrained_head


def test_a_trained_checkpoint_is_not_flagged(tiny_xlmr, capsys):
    assert main(["probe", "--model", str(tiny_xlmr), "--premise", "A man eats.", "--hypothesis", "He eats.",
                 "--json"]) == 0
    m = json.loads(capsys.readouterr().out)["models"][0]
    assert m["untrained_head"] is False and m["warnings"] == []


def test_evaluate_warns_about_a_base_checkpoint(tmp_path, monkeypatch):
    from tiny import make_tiny_checkpoint, use_models_dir

    from mlt_core.data.nli import load_nli
    from mlt_core.eval.evaluate import evaluate

    use_models_dir(monkeypatch, tmp_path / "models", tmp_path / "cache")
    ck = make_tiny_checkpoint(tmp_path / "demo-base", meta={"role": "base", "train_langs": []})
    ev = evaluate([str(ck)], load_nli("sample", langs=["en"], limit=4), ["en"])
    assert any(w.startswith("UNTRAINED HEAD: demo-base's classifier was never trained (mlt.json: role base)")
               for w in ev.warnings)


def test_generic_labels_probe_has_the_option_it_names(tmp_path, capsys):
    from tiny import make_tiny_checkpoint

    ck = make_tiny_checkpoint(tmp_path / "generic", id2label={0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"})
    argv = ["probe", "--model", str(ck), "--premise", "A man eats.", "--hypothesis", "He eats.", "--json"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: checkpoint labels are generic") and "--assume-xnli-order (probe, evaluate)" in err
    assert main([*argv, "--assume-xnli-order"]) == 0
    assert set(json.loads(capsys.readouterr().out)["models"][0]["probs"]) == {"entailment", "neutral", "contradiction"}


# ------------------------------------------------------------------- 14: wording
def test_probe_a_local_looking_path_that_does_not_exist(tmp_path, capsys, monkeypatch):
    (tmp_path / "models").mkdir()
    monkeypatch.chdir(tmp_path)
    assert main(["probe", "--model", "models/nope", "--premise", "a", "--hypothesis", "b"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no such folder models/nope: it does not exist;") and "Hub" not in err.split(";")[0]
    for path in ("./nope", "/no/such/dir", "a/b/c"):
        with pytest.raises(MltError, match="no such folder"):
            checkpoint.resolve(path)
    assert checkpoint.resolve("FacebookAI/xlm-roberta-base") == ("FacebookAI/xlm-roberta-base", False)  # a Hub id


@pytest.mark.parametrize("langs", [["en,hi,fr,es"], ["en", "hi", "fr", "es"], ["en,", "hi", "fr,es"]])
def test_fertility_langs_with_commas_or_spaces(tiny_xlmr, capsys, langs):
    assert main(["fertility", "--tokenizer", str(tiny_xlmr), "--data", "sample", "--langs", *langs, "--json"]) == 0
    assert sorted(r["lang"] for r in json.loads(capsys.readouterr().out)) == ["en", "es", "fr", "hi"]


def test_split_langs():
    from mlt_core.data.langs import split_langs

    assert split_langs("en,hi") == split_langs("en hi") == split_langs("en, hi") == split_langs(["en", "hi"]) == ["en", "hi"]
    assert split_langs("") is None and split_langs(None) is None and split_langs("en,en") == ["en"]


def test_readme_never_writes_into_the_demo_checkpoints():

    text = (ROOT / "README.md").read_text()
    outs = re.findall(r"--out\s+(\S+)", text)
    assert outs and not [o for o in outs if re.match(r"models/demo-[^/]+/", o)], outs


# ------------------------------------------------------------------- 15: hooks on a shared model
def test_forward_and_lape_count_on_one_model_at_once(tiny_xlmr):
    from mlt_core.data.templates import generate_pairs
    from mlt_core.forward import forward
    from mlt_core.neurons.counts import count_activations

    ck = checkpoint.load_checkpoint(tiny_xlmr)
    texts = list(generate_pairs(48, seed=3, split="train")["premise"])
    pair = [("A man is playing a guitar on the stage.", "Someone plays music.")]
    alone_fw = forward(ck, pair)
    alone_oz, alone_n = count_activations(ck.model, ck.tokenizer, texts, batch_size=2)
    results, errors, start = {"fw": [], "count": []}, [], threading.Barrier(2)

    def playground():
        try:
            start.wait()
            for _ in range(40):
                results["fw"].append(forward(ck, pair))
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    def lape():
        try:
            start.wait()
            for _ in range(3):
                results["count"].append(count_activations(ck.model, ck.tokenizer, texts, batch_size=2))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=playground), threading.Thread(target=lape)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for oz, n in results["count"]:
        assert n == alone_n and torch.equal(oz, alone_oz)
    for fw in results["fw"]:
        assert torch.allclose(fw.probs, alone_fw.probs)
        for l in range(fw.n_layers):
            assert torch.equal(fw[f"blocks.{l}.mlp.post"], alone_fw[f"blocks.{l}.mlp.post"])


def test_neurons_identify_never_silently_replaces_a_neuron_file(tiny_xlmr, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MLT_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "neurons.json"
    out.write_text('{"the": "demo\'s 4-language file"}')
    argv = ["neurons", "identify", "--model", str(tiny_xlmr), "--corpus", "en=nli:sample", "--corpus", "hi=nli:sample",
            "--max-lines", "20", "--out", str(out)]
    assert main(argv) == 2
    assert capsys.readouterr().err == f"error: {out} already exists; pass --out NEW.json, or --overwrite to replace it\n"
    assert out.read_text() == '{"the": "demo\'s 4-language file"}'
    assert main([*argv, "--overwrite"]) == 0
    assert set(json.loads(out.read_text())["neurons"]) == {"en", "hi"}


# ------------------------------------------------------------------- 13: e2e on its own copy, waits that scale
def test_e2e_runs_on_a_private_copy_of_the_demo_checkpoints(tmp_path):
    from tiny import make_tiny_checkpoint

    from e2e.conftest import _private_copy

    real = tmp_path / "models"
    for n in ("demo-en", "demo-hi", "my-own-run"):
        make_tiny_checkpoint(real / n)
    (real / ".jobs" / "j1").mkdir(parents=True)
    (real / "demo-en" / "neurons.json").write_text("{}")
    (real / "demo-link").symlink_to(real / "my-own-run")
    copy = _private_copy(real, tmp_path / "copy")
    assert sorted(p.name for p in copy.iterdir()) == ["demo-en", "demo-hi"]  # no jobs, no user checkpoints, no links
    assert sorted(p.name for p in (copy / "demo-en").iterdir()) == sorted(p.name for p in (real / "demo-en").iterdir())
    tmp = copy / "demo-en" / "neurons.json.tmp"  # the app writes atomically: the user's file stays as it was
    tmp.write_text('{"new": 1}')
    os.replace(tmp, copy / "demo-en" / "neurons.json")
    assert (real / "demo-en" / "neurons.json").read_text() == "{}"


def test_e2e_waits_scale_and_screenshots_stay_out_of_docs(monkeypatch):
    import e2e.conftest as c

    monkeypatch.delenv("MLT_E2E_TIMEOUT_SCALE", raising=False)
    monkeypatch.setattr(c.os, "getloadavg", lambda: (0.1, 0, 0))
    assert c.budget_ms(60_000) == 60_000
    monkeypatch.setenv("MLT_E2E_TIMEOUT_SCALE", "3")
    assert c.budget_ms(60_000) == 180_000
    monkeypatch.setattr(c.os, "getloadavg", lambda: (100.0 * (os.cpu_count() or 1), 0, 0))
    assert c.budget_ms(60_000) == 720_000  # load counts, up to 4x
    if not os.environ.get("MLT_SCREENSHOTS"):
        assert c.SCREENSHOTS == ROOT / ".e2e-artifacts" / "screenshots"
    assert ".e2e-artifacts/" in (ROOT / ".gitignore").read_text().splitlines()


def test_a_cancelled_run_leaves_nothing_behind(tiny_xlmr, models):
    """SIGTERM (the app's Cancel) before any Trainer checkpoint: no run folder, no lock, no checkpoint."""
    proc, _ = _start(models, tiny_xlmr, "gone", "--save-steps", "100000")
    progress = models / ".runs" / "gone" / "progress.jsonl"
    _wait(lambda: progress.is_file() and '"train"' in progress.read_text(), proc, "no training step")
    assert (models / ".runs" / "gone.lock").is_file()
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert _everything(models) == []
