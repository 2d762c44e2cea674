"""The Playground's forward cache is bounded in bytes: 50 distinct long pairs never push it past
its budget (float32, exact, by default; float16 on request, read back close to float32), and a
pair it dropped is recomputed (and reported) when asked for again."""
from __future__ import annotations

import pytest
import torch

from mlt_core.lru import ByteLRU

L, H, D = 12, 12, 48  # base head counts at a cheap width


@pytest.fixture(scope="module")
def base12(tmp_path_factory):
    from tiny import make_tiny_checkpoint

    return make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny-12x12", layers=L, heads=H, hidden=D,
                                max_positions=514)


def long_pairs(n: int) -> list[tuple[str, str]]:
    from mlt_core.data.templates import corpus_sentences

    k = 30
    sents = corpus_sentences("en", k * n, seed=5)
    return [(" ".join(sents[k * i:k * i + k - 4]) + f" ({i})", " ".join(sents[k * i + k - 4:k * i + k]))
            for i in range(n)]


def expected_bytes(n_tok: int, width: int) -> int:
    """Activations of one pass at `width` bytes per value, from the architecture alone (not from the cache)."""
    attn = L * H * n_tok * n_tok
    hidden = (L + 1) * n_tok * D
    mlp = L * n_tok * 4 * D
    ids = 2 * n_tok * 8  # input_ids, attention_mask (int64)
    return width * (attn + hidden + mlp) + ids + 2 * 3 * 4  # + logits, probs (float32)


def test_lru_drops_oldest_and_refuses_what_cannot_fit():
    c = ByteLRU(100)
    c.put("a", 1, 40), c.put("b", 2, 40)
    assert c.get("a") == 1  # a is now the most recent
    c.put("c", 3, 40)  # 120 > 100: drops b (least recently used), not a
    assert "b" not in c and c.get("a") == 1 and c.get("c") == 3 and c.nbytes == 80
    assert c.was_evicted("b") and not c.was_evicted("a")
    assert c.put("huge", 0, 101) is False and "huge" not in c and c.nbytes == 80


@pytest.mark.parametrize("dtype,width,budget_mb", [("float32", 4, 80), ("float16", 2, 40)])
def test_fifty_long_pairs_stay_within_the_budget(base12, monkeypatch, dtype, width, budget_mb):
    import streamlit as st

    from mlt_core.model.checkpoint import load_checkpoint
    from mlt_core.forward import forward
    import ui.widgets.models as M

    monkeypatch.setenv(M.FORWARD_CACHE_MB_ENV, str(budget_mb))
    monkeypatch.setenv(M.FORWARD_CACHE_DTYPE_ENV, dtype)
    monkeypatch.setenv("MLT_ALLOWED_DIRS", str(base12.parent))  # the app opens only allowed folders
    st.cache_resource.clear()
    store = M.forward_store()
    assert store.budget == budget_mb * 1024 * 1024
    pairs = long_pairs(50)
    sizes = []
    for p, h in pairs:
        cache = M.get_forward(str(base12), p, h)
        n = len(cache.tokens[0])
        assert n > 150, n  # long pairs: a cache of 128 of them in float32 would be gigabytes
        sizes.append(expected_bytes(n, width))
        assert store.nbytes <= store.budget
    assert sum(sizes) > 3 * store.budget  # the bound did something: all 50 would not fit
    held = [k for k in [(str(base12), p, h, None) for p, h in pairs] if k in store]
    assert 1 <= len(held) < 50
    assert store.nbytes == sum(s for s, (p, h) in zip(sizes, pairs) if (str(base12), p, h, None) in store)
    # the most recent pairs are the ones kept
    assert held == [(str(base12), p, h, None) for p, h in pairs[-len(held):]]

    # what is kept reads back as float32: equal to a fresh forward (float32), or within 2e-3 (float16)
    p, h = pairs[-1]
    kept = M.get_forward(str(base12), p, h)
    ref = forward(load_checkpoint(base12), [(p, h)])
    for name in ("blocks.11.attn.pattern", "blocks.12.hidden", "blocks.5.mlp.post"):
        assert kept[name].dtype == torch.float32
        tol = 0.0 if dtype == "float32" else 2e-3
        torch.testing.assert_close(kept[name], ref[name], rtol=tol, atol=tol)
    assert torch.equal(kept.probs, ref.probs)

    # the first pair was dropped: asking again recomputes it, and that (only that) is reported once
    assert not M.take_recomputed(str(base12), p, h)
    M.get_forward(str(base12), *pairs[0])
    assert M.take_recomputed(str(base12), *pairs[0]) and not M.take_recomputed(str(base12), *pairs[0])
    assert store.nbytes <= store.budget
    st.cache_resource.clear()
