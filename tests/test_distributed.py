"""The same train command under `torchrun --nproc_per_node 2` and under `accelerate launch --multi_gpu
--num_processes 2` (CPU, gloo) writes the same kind of checkpoint as one process."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors import safe_open

from mlt_core.cli import main

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["--train-langs", "en,hi", "--method", "ffn", "--max-steps", "3", "--batch-size", "4", "--train-size", "24",
        "--eval-limit", "6", "--evals", "0", "--max-length", "48", "--cpu"]


def shapes(path: Path) -> dict:
    with safe_open(str(path / "model.safetensors"), framework="pt") as f:
        return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}


LAUNCHERS = {
    "torchrun": ["torch.distributed.run", "--standalone", "--nproc_per_node", "2"],
    # --multi_gpu is accelerate's multi-process mode; with --cpu on our side the processes use gloo
    # (`accelerate launch --cpu` alone would start a single process)
    "accelerate": ["accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                   "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0"],
}


@pytest.mark.parametrize("launcher", list(LAUNCHERS))
def test_two_processes_match_single(launcher, tiny_xlmr, tmp_path):
    models = tmp_path / "models"
    env = {**os.environ, "MLT_MODELS_DIR": str(models), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "HF_HOME": str(tmp_path / "hf"),  # no accelerate config file of the user's steers the launch
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    cmd = [sys.executable, "-m", *LAUNCHERS[launcher],
           "-m", "mlt_core", "train", "--base", str(tiny_xlmr), "--name", "ddp", *ARGS]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert main(["train", "--base", str(tiny_xlmr), "--name", "single", "--output-dir", str(models), *ARGS]) == 0

    ddp, single = models / "ddp", models / "single"
    assert sorted(p.name for p in ddp.iterdir()) == sorted(p.name for p in single.iterdir())
    assert shapes(ddp) == shapes(single)
    m2, m1 = (json.loads((p / "mlt.json").read_text()) for p in (ddp, single))
    assert set(m2) == set(m1) and set(m2["hyperparameters"]) == set(m1["hyperparameters"])
    assert m2["hardware"]["processes"] == 2 and m1["hardware"]["processes"] == 1
    assert m2["trainable_params"] == m1["trainable_params"] and m2["hyperparameters"]["steps"] == 3
    assert set(m2["metrics"]["accuracy"]) == set(m1["metrics"]["accuracy"]) == {"en", "hi", "fr", "es"}
    assert 0.9 < m2["metrics"]["train_loss"] < 1.4  # mean cross-entropy of 3 classes, not scaled by world size
    assert not (models / ".runs").exists() or not any((models / ".runs").iterdir())
    # only rank 0 wrote: no stray temp folders from a second writer
    assert not [p for p in models.iterdir() if p.name.startswith((".tmp-", ".old-"))]


@pytest.mark.parametrize("argv, message", [
    (["--base", "b", "--train-langs", "en", "--name", "../evil"], "error: invalid checkpoint name '../evil'"),
    (["--base", "b", "--train-langs", "en", "--name", "x", "--max-steps", "-5"], "error: --max-steps must be"),
    (["--base", "b", "--train-langs", "en", "--name", "x", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
])
def test_module_entry_point(argv, message):
    # the command torchrun/accelerate launch: `python -m mlt_core train` parses and validates a real argv
    out = subprocess.run([sys.executable, "-m", "mlt_core", "train", *argv], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr, out.stderr
