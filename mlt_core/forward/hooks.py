"""Hooks on a shared model: `owned_hooks` (act only for the call that registered them) and `hooks` (record
or zero FFN activations). Hooks live only inside these context managers and are removed in a `finally`."""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterable, Mapping, Sequence

import torch

from mlt_core.model.arch import ffn_layers

Interventions = Mapping[int, Sequence[int]]  # layer -> neuron indices to zero
# Hooks sit on a model that the app shares across browser sessions (threads). Each hook acts
# only for the call that registered it: the owner token lives in a ContextVar, per thread.
_OWNER: ContextVar = ContextVar("mlt_hook_owner", default=())  # owners active in this context (nested calls add)


@contextmanager
def owned_hooks(hooks: Iterable[tuple]):
    """Register forward hooks [(module, fn(module, input, output))] that act only for this call; always removed.
    An entry (module, fn, "pre") is a forward pre-hook with keyword arguments, fn(module, args, kwargs).

    The app shares one model across browser sessions (threads): a hook registered here is a no-op for
    any other thread's (or context's) forward through the same model while it is registered. Calls nest:
    an outer call's hooks keep acting inside an inner one (e.g. a forward() run inside owned hooks)."""
    handles = []
    owner = object()
    token = _OWNER.set((*_OWNER.get(), owner))
    try:
        for module, fn, *kind in hooks:
            if kind == ["pre"]:
                def guarded_pre(mod, args, kwargs, fn=fn):
                    if owner not in _OWNER.get():  # another session's forward through the shared model
                        return None
                    return fn(mod, args, kwargs)

                handles.append(module.register_forward_pre_hook(guarded_pre, with_kwargs=True))
                continue

            def guarded(mod, inp, out, fn=fn):
                if owner not in _OWNER.get():  # another session's forward through the shared model
                    return None
                return fn(mod, inp, out)

            handles.append(module.register_forward_hook(guarded))
        yield
    finally:
        for h in handles:
            h.remove()
        _OWNER.reset(token)


@contextmanager
def hooks(model, capture_mlp: dict | None, interventions: Interventions | None = None):
    """Record FFN activations into `capture_mlp` and/or zero chosen neurons; always unhooked."""
    todo = []
    for l, ffn in enumerate(ffn_layers(model)):
        zero = torch.as_tensor(list((interventions or {}).get(l, [])), dtype=torch.long)

        def hook(mod, inp, out, l=l, zero=zero):
            if len(zero):
                out = out.clone()
                out[..., zero.to(out.device)] = 0.0
            if capture_mlp is not None:
                capture_mlp[l] = out.detach()
            return out

        if capture_mlp is not None or len(zero):
            todo.append((ffn.act, hook))
    with owned_hooks(todo):
        yield
