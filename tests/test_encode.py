"""forward.encode tokenises each batch once and gives exactly the ids of the tokenizer's own truncation."""
import random

import pytest

from mlt_core.data.templates import corpus_sentences
from mlt_core.forward import encode, forward
from mlt_core.forward.run import _longest_first
from mlt_core.model.checkpoint import load_checkpoint


def old_path(tok, pairs, limit):
    """The previous encode: one call to measure, a second one to truncate and pad."""
    prem, hyp = [p for p, _ in pairs], [h for _, h in pairs]
    full = tok(prem, hyp, truncation=False, add_special_tokens=True)["input_ids"]
    truncated = [len(ids) > limit for ids in full]
    if any(truncated):
        enc = tok(prem, hyp, truncation="longest_first", max_length=limit, padding=True, return_tensors="pt")
    else:
        enc = tok(prem, hyp, padding=True, return_tensors="pt")
    return enc, truncated


def test_longest_first_by_hand():
    assert _longest_first(3, 20, 10) == (3, 7)  # the short side fits whole, the long one takes the rest
    assert _longest_first(20, 3, 10) == (7, 3)
    assert _longest_first(8, 9, 10) == (5, 5)  # both too long: half each
    assert _longest_first(9, 8, 11) == (6, 5) and _longest_first(8, 9, 11) == (5, 6)  # the longer gets the odd one
    assert _longest_first(4, 4, 20) == (4, 4)


@pytest.mark.parametrize("family", ["xlmr", "qwen2"])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_ids_match_the_tokenizers_own_truncation(family, padding_side, tiny_xlmr, tiny_qwen2, monkeypatch):
    ck = load_checkpoint(tiny_xlmr if family == "xlmr" else tiny_qwen2)
    tok = ck.tokenizer
    monkeypatch.setattr(tok, "padding_side", padding_side)
    sents = corpus_sentences("en", 40, seed=3) + corpus_sentences("hi", 40, seed=3)
    rng = random.Random(0)
    cut = 0
    for _ in range(60):
        pairs = [(" ".join(rng.sample(sents, rng.randint(1, 4))), " ".join(rng.sample(sents, rng.randint(1, 4))))
                 for _ in range(rng.randint(1, 4))]
        limit = rng.randint(8, 60)
        enc, truncated, seq_ids = encode(ck, pairs, limit)
        ref, ref_truncated = old_path(tok, pairs, limit)
        assert enc["input_ids"].tolist() == ref["input_ids"].tolist()
        assert enc["attention_mask"].tolist() == ref["attention_mask"].tolist()
        assert truncated == ref_truncated
        assert seq_ids == [ref.sequence_ids(i) for i in range(len(pairs))]
        cut += sum(truncated)
    assert cut > 20  # the comparison covered truncation, not only short pairs


def test_one_tokenizer_call_per_batch(tiny_xlmr, monkeypatch):
    ck = load_checkpoint(tiny_xlmr)
    cls = type(ck.tokenizer)
    calls = []
    real = cls.__call__
    monkeypatch.setattr(cls, "__call__", lambda self, *a, **k: (calls.append(k.get("truncation")), real(self, *a, **k))[1])
    long = " ".join(corpus_sentences("en", 30, seed=1))
    cache = forward(ck, [(long, "A man sleeps."), ("A girl reads.", "Someone reads.")], max_length=40)
    assert calls == [False]  # one call, un-truncated: the cut is made on those ids
    assert cache.truncated == [True, False] and cache.input_ids.shape[1] == 40


def test_batches_tokenise_the_dataset_once_and_match_forward(tiny_xlmr, monkeypatch):
    from mlt_core.forward import batches

    ck = load_checkpoint(tiny_xlmr)
    sents = corpus_sentences("en", 30, seed=2)
    pairs = [(" ".join(sents[i:i + 1 + i % 3]), sents[-1 - i]) for i in range(10)]
    expected = {i: forward(ck, [p], capture=("hidden",), max_length=20) for i, p in enumerate(pairs)}
    cls = type(ck.tokenizer)
    calls = []
    real = cls.__call__
    monkeypatch.setattr(cls, "__call__", lambda self, *a, **k: (calls.append(len(a[0])), real(self, *a, **k))[1])
    seen = []
    for idx, cache in batches(ck, pairs, batch_size=4, capture=("hidden",), max_length=20):
        lens = cache.attention_mask.sum(1).tolist()
        assert lens == sorted(lens)  # length-sorted within and across batches
        for row, i in enumerate(idx):
            n = int(lens[row])
            assert cache.input_ids[row, :n].tolist() == expected[i].input_ids[0].tolist()
            assert cache.truncated[row] == expected[i].truncated[0] and cache.seq_ids[row][:n] == expected[i].seq_ids[0]
        seen += idx
    assert sorted(seen) == list(range(10))
    assert calls == [10]  # one tokenizer call for the whole dataset, none per batch
