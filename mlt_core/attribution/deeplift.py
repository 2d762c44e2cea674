"""DeepLIFT for transformer classifiers: the rescale rule on a network whose attention and norms are frozen.

The treatment (Ali et al., ICML 2022, "XAI for Transformers: Better Explanations through Conservative
Propagation", who hold these at their values on the input so that relevance is conserved):
- attention probabilities (the softmax output) are held at their values on the INPUT, for the input and
  the baseline alike; query/key therefore get no gradient, and attention x value is linear in value;
- LayerNorm's 1/std and RMSNorm's 1/rms are held at their values on the input (the mean subtraction and
  the affine weights stay): each norm is linear;
- every element-wise non-linearity f (GELU, tanh, SiLU, ReLU, ... modules, and the tanh of the XLM-R/
  RoBERTa classification head) gets DeepLIFT's rescale rule, multiplier (f(z) - f(z_ref)) / (z - z_ref)
  (the gradient at z where |z - z_ref| < 1e-6);
- a gated MLP's product act(gate) * up (Qwen2/Llama SwiGLU) splits its change evenly between the factors
  (the two-player Shapley value: d(ab) = da (b + b_ref)/2 + (a + a_ref)/2 db), which is exact.
What is left is linear maps and these rules, so the scores sum exactly (up to float rounding) to
logit(x) - logit(baseline) of the network SO TREATED: on the input it is the model itself, on the
baseline it is the model with the input's attention and norm scales. It is NOT the real model's
logit(x) - logit(baseline), not Captum's DeepLift (which has no rules for GELU, norms or attention and
falls back to plain gradients there), and not Ali et al.'s LRP rules (no epsilon/gamma stabilisers).
Implementation: one forward over the batch [inputs; baselines] with the rules installed on the modules
(instance `forward` overrides, active only in this context and thread), one backward of the inputs'
target logit, score = (x - x_ref) * gradient.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable

import torch
from torch import nn

_ACTIVE: ContextVar = ContextVar("mlt_deeplift", default=False)  # per thread: the app shares models
_LOCK = threading.Lock()  # one treated run at a time (the softmax patch and the overrides are process-wide)
_ACT_TYPES = (nn.GELU, nn.SiLU, nn.Tanh, nn.ReLU, nn.Sigmoid, nn.ELU, nn.LeakyReLU, nn.Softplus, nn.Mish,
              nn.Hardtanh, nn.Hardswish, nn.SELU, nn.CELU)
EPS_DELTA = 1e-6


def _halves(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    n = t.shape[0] // 2
    return t[:n], t[n:]


def _held(t: torch.Tensor) -> torch.Tensor:
    """The inputs' half, detached, for both halves.  # same shape as t"""
    a, _ = _halves(t.detach())
    return torch.cat([a, a])


class _Rescale(torch.autograd.Function):
    """y = f(z) per half; backward multiplier (f(z) - f(z_ref)) / (z - z_ref) for both halves."""

    @staticmethod
    def forward(ctx, z, fn):
        with torch.no_grad():
            y = fn(z)
            (z1, z0), (y1, y0) = _halves(z), _halves(y)
            dz = z1 - z0
            small = dz.abs() < EPS_DELTA
            with torch.enable_grad():  # gradient at z where the secant is ill-conditioned
                zz = z1.detach().requires_grad_(True)
                (g,) = torch.autograd.grad(fn(zz).sum(), zz)
            m = torch.where(small, g, (y1 - y0) / torch.where(small, torch.ones_like(dz), dz))
        ctx.save_for_backward(torch.cat([m, m]))
        return y

    @staticmethod
    def backward(ctx, grad):
        (m,) = ctx.saved_tensors
        return grad * m, None


class _Product(torch.autograd.Function):
    """a * b per half; backward: da gets (b + b_ref) / 2, db gets (a + a_ref) / 2 (Shapley split, exact)."""

    @staticmethod
    def forward(ctx, a, b):
        (a1, a0), (b1, b0) = _halves(a.detach()), _halves(b.detach())
        ma, mb = (b1 + b0) / 2, (a1 + a0) / 2
        ctx.save_for_backward(torch.cat([ma, ma]), torch.cat([mb, mb]))
        return a * b

    @staticmethod
    def backward(ctx, grad):
        ma, mb = ctx.saved_tensors
        return grad * ma, grad * mb


def rescale(fn: Callable, z: torch.Tensor) -> torch.Tensor:
    return _Rescale.apply(z, fn)


# ------------------------------------------------------------------------------- the rules, per module kind
def _is_activation(mod: nn.Module) -> bool:
    if list(mod.children()):
        return False
    return isinstance(mod, _ACT_TYPES) or type(mod).__module__.startswith("transformers.activations")


def _is_rmsnorm(mod: nn.Module) -> bool:
    return "rmsnorm" in type(mod).__name__.lower() and hasattr(mod, "weight")


def _is_gated_mlp(mod: nn.Module) -> bool:
    return all(hasattr(mod, k) for k in ("gate_proj", "up_proj", "down_proj", "act_fn"))


def _is_roberta_head(mod: nn.Module) -> bool:
    return type(mod).__name__.endswith("ClassificationHead") and hasattr(mod, "dense") and hasattr(mod, "out_proj")


def _layernorm(mod: nn.LayerNorm, orig):
    def fwd(x):
        if not _ACTIVE.get() or len(mod.normalized_shape) != 1:
            return orig(x)
        mu = x.mean(-1, keepdim=True)
        std = torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + mod.eps)  # [.., 1]
        y = (x - mu) / _held(std)
        return y * mod.weight + mod.bias if mod.elementwise_affine else y
    return fwd


def _rmsnorm(mod, orig):
    eps = getattr(mod, "variance_epsilon", getattr(mod, "eps", 1e-6))

    def fwd(x):
        if not _ACTIVE.get():
            return orig(x)
        xf = x.float()
        inv = torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)  # [.., 1]
        return mod.weight * (xf * _held(inv)).to(x.dtype)
    return fwd


def _activation(mod, orig):
    def fwd(x):
        return rescale(orig, x) if _ACTIVE.get() else orig(x)
    return fwd


def _gated_mlp(mod, orig):
    def fwd(x):
        if not _ACTIVE.get():
            return orig(x)
        return mod.down_proj(_Product.apply(mod.act_fn(mod.gate_proj(x)), mod.up_proj(x)))
    return fwd


def _roberta_head(mod, orig):
    def fwd(features, **kw):
        if not _ACTIVE.get():
            return orig(features, **kw)
        x = mod.dense(mod.dropout(features[:, 0, :]))  # <s>
        return mod.out_proj(mod.dropout(rescale(torch.tanh, x)))
    return fwd


def _rule(mod: nn.Module):
    if isinstance(mod, nn.LayerNorm):
        return _layernorm
    if _is_rmsnorm(mod):
        return _rmsnorm
    if _is_gated_mlp(mod):
        return _gated_mlp
    if _is_roberta_head(mod):
        return _roberta_head
    if _is_activation(mod):
        return _activation
    return None


def treated_modules(model: nn.Module) -> dict[str, int]:
    """Which modules get a rule: {kind: count} (kinds: layernorm, rmsnorm, gated_mlp, roberta_head, activation)."""
    out: dict[str, int] = {}
    for mod in model.modules():
        r = _rule(mod)
        if r is not None:
            k = r.__name__.strip("_")
            out[k] = out.get(k, 0) + 1
    return out


_orig_softmax = torch.nn.functional.softmax


def _softmax(*args, **kwargs):
    out = _orig_softmax(*args, **kwargs)
    return _held(out) if _ACTIVE.get() else out


@contextmanager
def treated(model: nn.Module):
    """Install the rules on `model` (and softmax held at the inputs' half) for this thread; always undone.

    Inside, the model's batch must be [inputs; baselines], two equal halves."""
    with _LOCK:
        patched = []
        try:
            for mod in model.modules():
                r = _rule(mod)
                if r is not None and "forward" not in mod.__dict__:
                    mod.forward = r(mod, mod.forward)
                    patched.append(mod)
            torch.nn.functional.softmax = _softmax
            token = _ACTIVE.set(True)
            try:
                yield
            finally:
                _ACTIVE.reset(token)
        finally:
            torch.nn.functional.softmax = _orig_softmax
            for mod in patched:
                del mod.forward


def deeplift(f: Callable[[torch.Tensor], torch.Tensor], model: nn.Module, x: torch.Tensor, x_ref: torch.Tensor,
             target: int) -> dict:
    """DeepLIFT scores of f's `target` output for inputs x against baselines x_ref (same shape [n, ...]).

    f maps a batch of inputs to outputs [batch, n_out]; `model` is the module whose layers get the rules.
    Returns {"attr": (x - x_ref) * multipliers  # [n, ...], "f_x" # [n], "f_ref" # [n]  (the target output
    of the treated network on x and x_ref), "delta": max |sum(attr) - (f_x - f_ref)|, "fidelity": max |treated
    - untreated output on x| (0 up to rounding, unless the model has a layer these rules do not know)}.
    """
    if x.shape != x_ref.shape:
        raise ValueError(f"input and baseline shapes differ: {tuple(x.shape)} vs {tuple(x_ref.shape)}")
    n = x.shape[0]
    with torch.inference_mode(False), torch.enable_grad():
        xx = x.detach().clone().requires_grad_(True)
        batch = torch.cat([xx, x_ref.detach().to(x.dtype)])  # [2n, ...]
        with treated(model):
            out = f(batch)  # [2n, n_out]
        y = out[:, target]
        (grad,) = torch.autograd.grad(y[:n].sum(), xx)
        with torch.no_grad():  # the untreated model on x: the treated one must agree there
            plain = f(x.detach())  # [n, n_out]
    attr = ((x.detach() - x_ref.detach()) * grad).detach()
    f_x, f_ref = y[:n].detach(), y[n:].detach()
    delta = float((attr.flatten(1).sum(1) - (f_x - f_ref)).abs().max())
    fidelity = float((out[:n].detach() - plain).abs().max())
    return {"attr": attr, "f_x": f_x, "f_ref": f_ref, "delta": delta, "fidelity": fidelity}
