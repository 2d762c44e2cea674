"""`python -m mlt_core train` end to end on a tiny XLM-R: checkpoint, mlt.json, resume, refusals."""
import errno
import json
import os
import signal
import subprocess
import sys
import time
from collections import namedtuple
from pathlib import Path

import pytest
import torch

from mlt_core.cli import build_parser, main
from mlt_core.errors import MltError
from mlt_core.model import checkpoint
from mlt_core.model.checkpoint import list_checkpoints, load_checkpoint
from mlt_core.training.config import TrainConfig

ROOT = Path(__file__).resolve().parent.parent
FAST = ["--max-steps", "4", "--batch-size", "8", "--train-size", "24", "--eval-limit", "6", "--evals", "0",
        "--max-length", "48", "--cpu"]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def models(tmp_path, monkeypatch):
    d = tmp_path / "models"
    monkeypatch.setattr(checkpoint, "MODELS_DIR", d)
    monkeypatch.setenv("MLT_MODELS_DIR", str(d))
    return d


def cli(*args):
    return main(["train", *map(str, args)])


def test_cli_writes_a_complete_checkpoint(tiny_xlmr, models, capsys):
    assert cli("--base", tiny_xlmr, "--train-langs", "en,hi", "--name", "m1", "--evals", "2", *FAST) == 0
    meta = json.loads((models / "m1" / "mlt.json").read_text())
    for key in ("created", "base", "train_langs", "method", "data", "seed", "hyperparameters", "trainable_params",
                "trainable_fraction", "metrics", "wall_time_s", "hardware", "head"):
        assert key in meta, key
    assert meta["train_langs"] == ["en", "hi"] and meta["method"] == "full" and meta["data"] == "sample"
    hp = meta["hyperparameters"]
    assert hp["steps"] == 4 and hp["batch_size"] == 8 and hp["lr"] == 2e-5 and hp["max_length"] == 48
    assert set(meta["metrics"]["accuracy"]) == {"en", "hi", "fr", "es"}  # every language with eval data
    assert all(0 <= a <= 1 for a in meta["metrics"]["accuracy"].values())
    assert meta["hardware"]["torch"] == torch.__version__ and meta["hardware"]["device"]
    assert meta["trainable_fraction"] == 1.0
    assert [c["name"] for c in list_checkpoints(models)] == ["m1"]  # .runs is never listed
    assert not (models / ".runs" / "m1").exists()  # Trainer checkpoints removed after success
    rows = [json.loads(l) for l in (models / "m1" / "progress.jsonl").read_text().splitlines()]
    assert {r["event"] for r in rows} == {"start", "train", "eval"}
    assert all({"step", "max_steps", "epoch", "time"} <= set(r) for r in rows)
    assert set(rows[-1]["eval_accuracy"]) == {"en", "hi", "fr", "es"}
    ck = load_checkpoint(models / "m1")
    assert not ck.untrained_head and ck.label_order == [0, 1, 2]
    assert "accuracy" in capsys.readouterr().out


def test_real_argv_becomes_the_config(models):
    from mlt_core.training.config import check_argv, config_from_args

    argv = ["train", "--base", "models/b", "--train-langs", "en,hi", "--name", "run1", "--method", "lora",
            "--lr", "3e-4", "--max-steps", "7", "--lora-ffn", "--cpu", "--eval_limit", "5", "--warmup", "0.1"]
    cfg = config_from_args(build_parser().parse_args(argv))
    assert cfg == TrainConfig(base="models/b", train_langs="en,hi", name="run1", method="lora", lr=3e-4,
                              max_steps=7, lora_ffn=True, cpu=True, eval_limit=5, warmup=0.1)
    assert (cfg.lr, cfg.max_steps, cfg.warmup) == (3e-4, 7, 0.1) and isinstance(cfg.max_steps, int)
    # defaults, as documented in the README / --help, written out here
    assert (cfg.epochs, cfg.batch_size, cfg.seed, cfg.max_length, cfg.data, cfg.evals, cfg.lora_r, cfg.resume) == \
        (3.0, 16, 0, 128, "sample", 4, 8, False)
    assert cfg.langs() == ["en", "hi"]
    # the app's pre-flight parse (check_argv) is the same parser and refuses instead of exiting
    assert check_argv(argv[1:]) == cfg
    with pytest.raises(MltError, match="invalid choice: 'nope'"):
        check_argv(["--base", "b", "--train-langs", "en", "--name", "x", "--method", "nope"])
    with pytest.raises(MltError, match="--lr must be a positive number"):
        check_argv(["--base", "b", "--train-langs", "en", "--name", "x", "--lr", "0"])


@pytest.mark.parametrize("argv, message", [
    (["--base", "b", "--train-langs", "en", "--name", "x", "--bogus", "1"], "unrecognized arguments: --bogus 1"),
    (["--base", "b", "--name", "x"], "the following arguments are required: --train-langs"),
    (["--base", "b", "--train-langs", "en", "--name", "x", "--batch-size", "many"], "--batch-size/--batch_size: invalid int value: 'many'"),
])
def test_a_wrong_flag_exits_2_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", *argv])
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_refusals(tiny_xlmr, models, tmp_path, capsys, monkeypatch):
    assert cli("--base", tiny_xlmr, "--train-langs", "en", "--name", "taken", *FAST) == 0
    capsys.readouterr()
    cases = [
        (["--name", "taken"], "already exists"),
        (["--name", "../evil"], "invalid checkpoint name"),
        (["--name", "a/b"], "invalid checkpoint name"),
        (["--name", "x", "--train-langs", "xx"], "'xx' is not in the sample data"),
        (["--name", "x", "--base", "nobody-here/no-such-model"], "unknown base model"),
        (["--name", "x", "--base", str(tmp_path)], "no config.json"),
        (["--name", "x", "--resume"], "nothing to resume"),
    ]
    for extra, message in cases:
        args = {"--base": str(tiny_xlmr), "--train-langs": "en"}
        argv = []
        for k, v in args.items():
            if k not in extra:
                argv += [k, v]
        assert cli(*argv, *extra, *FAST) == 2, extra
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and "Traceback" not in err, (extra, err)
    assert cli("--base", tiny_xlmr, "--train-langs", "hi", "--name", "taken", "--overwrite", *FAST) == 0
    assert json.loads((models / "taken" / "mlt.json").read_text())["train_langs"] == ["hi"]

    import mlt_core.training.trainer as train_mod

    monkeypatch.setattr(train_mod.shutil, "disk_usage", lambda p: namedtuple("u", "total used free")(1, 1, 1000))
    assert cli("--base", tiny_xlmr, "--train-langs", "en", "--name", "nospace", *FAST) == 2
    assert "not enough disk space" in capsys.readouterr().err


def test_disk_full_while_saving_leaves_no_checkpoint(tiny_xlmr, models, capsys, monkeypatch):
    from transformers import PreTrainedModel

    def full(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(PreTrainedModel, "save_pretrained", full)
    assert cli("--base", tiny_xlmr, "--train-langs", "en", "--name", "full", "--save-steps", "1000", *FAST) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and ("No space left" in err or "disk full" in err)
    assert not (models / "full").exists() and list_checkpoints(models) == []


def test_base_without_head_and_mnli_ordered_head(tmp_path, models):
    from tiny import MNLI_ID2LABEL, make_tiny_checkpoint

    bare = make_tiny_checkpoint(tmp_path / "bare", head=False)
    assert cli("--base", bare, "--train-langs", "en", "--name", "fromlm", *FAST) == 0
    meta = json.loads((models / "fromlm" / "mlt.json").read_text())
    assert meta["head"].startswith("new")
    mnli = make_tiny_checkpoint(tmp_path / "mnli", id2label=MNLI_ID2LABEL)
    assert cli("--base", mnli, "--train-langs", "en", "--name", "mnli", *FAST) == 0
    cfg = json.loads((models / "mnli" / "config.json").read_text())
    assert {int(k): v for k, v in cfg["id2label"].items()} == MNLI_ID2LABEL  # head kept in its own order
    assert load_checkpoint(models / "mnli").label_order == [2, 1, 0]


def test_resume_after_kill(tiny_xlmr, models):
    """Kill a run after its first Trainer checkpoint; nothing is listed meanwhile; --resume finishes it."""
    args = ["--base", str(tiny_xlmr), "--train-langs", "en", "--name", "r1", "--max-steps", "300", "--save-steps", "25",
            "--batch-size", "4", "--train-size", "60", "--eval-limit", "6", "--evals", "0", "--max-length", "48", "--cpu"]
    env = {**os.environ, "MLT_MODELS_DIR": str(models), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "mlt_core", "train", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    run_dir = models / ".runs" / "r1"
    try:
        deadline = time.time() + 120
        while not list(run_dir.glob("checkpoint-*/trainer_state.json")):
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.time() < deadline, "no Trainer checkpoint appeared"
            assert list_checkpoints(models) == []
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (models / "r1").exists() and list_checkpoints(models) == []
    assert cli(*args) == 2  # an interrupted run is not silently restarted
    assert cli(*args, "--resume") == 0
    meta = json.loads((models / "r1" / "mlt.json").read_text())
    assert meta["hyperparameters"]["steps"] == 300
    assert meta["resumed_from"].startswith("checkpoint-") and meta["resumed_from"] != "checkpoint-300"
    assert not run_dir.exists()


def test_local_data_file_bad_labels_and_held_out_eval(tiny_xlmr, models, tmp_path, capsys):
    rows = [{"premise": f"A man is eating {i}.", "hypothesis": "Someone is eating.", "label": "entailment",
             "lang": "en"} for i in range(20)]
    good = tmp_path / "pairs.jsonl"
    good.write_text("\n".join(json.dumps(r) for r in rows))
    assert cli("--base", tiny_xlmr, "--train-langs", "en", "--name", "file", "--data", good, *FAST) == 0
    meta = json.loads((models / "file" / "mlt.json").read_text())
    assert meta["hyperparameters"]["train_pairs"] == 18 and meta["metrics"]["eval_pairs"] == {"en": 2}
    assert "held out" in meta["metrics"]["eval_data"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(json.dumps({**r, "label": "maybe" if i == 3 else r["label"]}) for i, r in enumerate(rows)))
    capsys.readouterr()
    assert cli("--base", tiny_xlmr, "--train-langs", "en", "--name", "bad", "--data", bad, *FAST) == 2
    err = capsys.readouterr().err
    assert "label 'maybe' is not one of" in err and "line 4" in err


def _error_line(capsys) -> str:
    """The CLI's one `error: ...` line on stderr (other stderr lines: library progress bars and warnings, and
    logging's own complaint when transformers' handler still holds an earlier test's captured stream)."""
    err = capsys.readouterr().err
    lines = [l for l in err.splitlines() if l.startswith("error: ")]
    assert len(lines) == 1, err
    return lines[0]


def _neuron_file(path, neurons):
    path.write_text(json.dumps({"settings": {"top_rate": 0.01}, "languages": list(neurons), "d_ff": 64,
                                "neurons": neurons}))
    return path


def _no_head_message(method, base):
    return (f"--method {method} trains only a few FFN neurons and the classifier head, and {base} has no trained head: "
            "that subnetwork cannot learn NLI from a random head (it stays at chance). Start from a checkpoint "
            "already fine-tuned on NLI, e.g. --base demo-en --train-langs hi, or use --method ffn, lora or full")


@pytest.mark.parametrize("method", ["lape", "random"])
def test_lape_and_random_refuse_a_base_whose_head_is_untrained(method, tmp_path, models, capsys):
    """A few neurons + a random head stay at chance (measured on demo-base): refused, with the reason, nothing made."""
    from tiny import make_tiny_checkpoint

    nf = _neuron_file(tmp_path / "n.json", {"en": [[1], [2]], "hi": [[3], [4]]})
    bare = make_tiny_checkpoint(tmp_path / "bare", head=False)  # transformers initialises a new head
    flagged = make_tiny_checkpoint(tmp_path / "flagged", meta={"role": "base", "untrained_head": True})  # as demo-base
    for base in (bare, flagged):
        capsys.readouterr()
        assert cli("--base", base, "--train-langs", "hi", "--name", "sub", "--method", method, "--neuron-file", nf,
                   *FAST) == 2
        assert _error_line(capsys) == "error: " + _no_head_message(method, base)
        assert not (models / "sub").exists() and not (models / ".runs" / "sub").exists()
    # the same base with a trained head is accepted
    assert cli("--base", make_tiny_checkpoint(tmp_path / "trained"), "--train-langs", "hi", "--name", "sub",
               "--method", method, "--neuron-file", nf, *FAST) == 0


def test_the_apps_preflight_refuses_lape_from_an_untrained_head_before_any_job(tmp_path, models, monkeypatch):
    """The sidebar's check (jobs.start_job -> check_argv) refuses at once, from config.json/mlt.json alone; a base it
    cannot judge that way is still refused when its weights load."""
    import mlt_core.model.checkpoint as ck
    import mlt_core.training.trainer as train_mod
    from mlt_core.training import jobs
    from mlt_core.training.config import check_argv
    from tiny import make_tiny_checkpoint

    flagged = make_tiny_checkpoint(tmp_path / "flagged", meta={"role": "base", "untrained_head": True})
    bare = make_tiny_checkpoint(tmp_path / "bare", head=False)
    loads = []
    monkeypatch.setattr(ck, "load_pretrained", lambda *a, **k: loads.append(a))
    for base in (flagged, bare):
        with pytest.raises(MltError) as e:
            check_argv(["--base", str(base), "--train-langs", "hi", "--name", "sub", "--method", "random"])
        assert str(e.value) == _no_head_message("random", base)
        with pytest.raises(MltError) as e:
            jobs.start_job({"base": str(base), "train_langs": ["hi"], "method": "lape", "name": "sub"})
        assert str(e.value) == _no_head_message("lape", base)
    assert loads == [] and not models.exists()  # no model loaded, no job or run folder
    assert check_argv(["--base", str(flagged), "--train-langs", "hi", "--name", "sub", "--method", "ffn"]).method == "ffn"
    monkeypatch.undo()
    monkeypatch.setattr(checkpoint, "MODELS_DIR", models)
    monkeypatch.setenv("MLT_MODELS_DIR", str(models))
    import mlt_core.training.config as config_mod

    monkeypatch.setattr(config_mod, "check_subnetwork_base", lambda method, base: None)  # e.g. a Hub id
    with pytest.raises(MltError) as e:
        train_mod.train(TrainConfig(base=str(bare), train_langs="hi", name="sub", method="lape", max_steps=2,
                                    neuron_file=str(_neuron_file(tmp_path / "n.json", {"hi": [[1], [2]]})),
                                    output_dir=str(models), cpu=True), log=lambda m: None)
    assert str(e.value) == _no_head_message("lape", bare)
    assert not (models / "sub").exists() and not (models / ".runs" / "sub").exists()


@pytest.mark.parametrize("method", ["lape", "random"])
def test_lape_and_random_refuse_a_language_without_lape_neurons(method, tiny_xlmr, tmp_path, models, capsys):
    covers = _neuron_file(tmp_path / "enhi.json", {"en": [[1], [2]], "hi": [[3], [4]]})
    capsys.readouterr()
    assert cli("--base", tiny_xlmr, "--train-langs", "fr", "--name", "sub", "--method", method,
               "--neuron-file", covers, *FAST) == 2
    assert _error_line(capsys) == "error: the LAPE result has no neurons for 'fr'; it covers en, hi"
    empty = _neuron_file(tmp_path / "empty.json", {"en": [[1], [2]], "hi": [[], []]})
    assert cli("--base", tiny_xlmr, "--train-langs", "hi", "--name", "sub", "--method", method,
               "--neuron-file", empty, *FAST) == 2
    assert _error_line(capsys) == "error: LAPE found no neurons specific to hi; raise top_rate or pass --neuron-file"
    assert not (models / "sub").exists() and not (models / ".runs" / "sub").exists()


def test_lora_default_learning_rate(tiny_xlmr, models):
    """Without --lr (the sidebar's "by method"), LoRA trains at 1e-3: at 3e-4 it stayed near chance on demo-base
    (en 0.40 after 120 steps x 16; 1e-3: 0.45; BENCHMARKS.md)."""
    assert cli("--base", tiny_xlmr, "--train-langs", "en", "--name", "lo", "--method", "lora", *FAST) == 0
    assert json.loads((models / "lo" / "mlt.json").read_text())["hyperparameters"]["lr"] == 1e-3
