"""LAPE language neurons: the selection against a separate transcription of the reference code,
activation counting against brute force, switching neurons off, files, corpora and the CLI."""
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from mlt_core.cli import main
from mlt_core.data.templates import corpus_sentences, generate_pairs
from mlt_core.errors import MltError
from mlt_core.forward import FORWARD_CALLS, ForwardCache, forward
from mlt_core.model.checkpoint import load_checkpoint
from mlt_core.neurons.corpus import check_corpora, load_corpus, parse_spec
from mlt_core.neurons.counts import ablation_matrix, count_activations
from mlt_core.probes.neurons import firing, top_neurons
from mlt_core.neurons.lape import identify, lape, load_counts, load_neurons, save_neurons, select_neurons


# ------------------------------------------------------------------ the reference formula, transcribed
def reference_lape(over_zero, n, top_rate, filter_rate, bar_ratio):
    """RUCAIBox/Language-Specific-Neurons identify.py, rewritten with loops (no mlt code).

    over_zero [lang][layer][neuron] counts, n [lang] tokens. Ties in entropy: (layer, neuron) order.
    """
    n_lang, n_layer, d_ff = over_zero.shape
    probs = np.zeros((n_layer, d_ff, n_lang), dtype=np.float32)
    for j in range(n_lang):
        for l in range(n_layer):
            for i in range(d_ff):
                probs[l, i, j] = np.float32(over_zero[j, l, i]) / np.float32(n[j])
    flat = sorted(float(v) for v in probs.flatten())
    filter_bar = flat[round(len(flat) * filter_rate) - 1]  # kthvalue is 1-based
    act_bar = flat[round(len(flat) * bar_ratio) - 1]
    entropy = {}
    for l in range(n_layer):
        for i in range(d_ff):
            p = [float(x) for x in probs[l, i]]
            s = sum(p)
            h = 0.0 if s == 0 else -sum((x / s) * math.log(x / s) for x in p if x > 0)
            if not any(x > filter_bar for x in p):  # strictly greater, as in the reference
                h = math.inf
            entropy[(l, i)] = h
    chosen = sorted(entropy, key=lambda c: (entropy[c], c))[:round(n_layer * d_ff * top_rate)]
    out = []
    for j in range(n_lang):
        layers = [[] for _ in range(n_layer)]
        for l, i in sorted(chosen):
            if float(probs[l, i, j]) > act_bar:
                layers[l].append(i)
        out.append(layers)
    return out


def test_hand_worked_example():
    # two languages, one layer, five neurons; probs en/hi: n0 (1, 0), n1 (0, 1), n2 (.5, .5), n3 (.2, .2), n4 (0, 0)
    over_zero = torch.tensor([[[10, 0, 5, 2, 0]], [[0, 20, 10, 4, 0]]])
    n = torch.tensor([10, 20])
    # sorted probs 0 0 0 0 .2 .2 .5 .5 1 1; filter bar = 5th = 0.2, so n3 (.2 not > .2) and n4 drop out;
    # entropies n0 = n1 = 0, n2 = ln 2; top 3 of 5 -> n0, n1, n2; bar 0.2: n2 belongs to both
    assert select_neurons(over_zero, n, 0.6, 0.5, 0.5, ["en", "hi"]) == {"en": [[0, 2]], "hi": [[1, 2]]}
    # top 4: the fourth pick is the filtered n3 (inf entropy, before n4 by index), above no bar: unassigned
    neurons, info = lape(over_zero, n, 0.8, 0.5, 0.5)
    assert neurons == [[[0, 2]], [[1, 2]]] and info["unassigned"] == 1 and info["filter_bar"] == pytest.approx(0.2)
    # a lower activation bar (3rd smallest = 0) lets the reference assign the filtered n3 to both languages
    assert select_neurons(over_zero, n, 0.8, 0.5, 0.3, ["en", "hi"]) == {"en": [[0, 2, 3]], "hi": [[1, 2, 3]]}
    # Python's round: 10 * 0.25 = 2.5 rounds to 2 -> the 2nd smallest prob (0) is the filter bar
    assert lape(over_zero, n, 0.2, 0.25, 0.5)[1]["filter_bar"] == 0.0


@pytest.mark.parametrize("seed,rates", [(0, (0.01, 0.95, 0.95)), (1, (0.05, 0.9, 0.8)), (2, (0.2, 0.5, 0.95)),
                                        (3, (0.1, 0.7, 0.7))])
def test_selection_equals_the_reference_transcription(seed, rates):
    g = np.random.default_rng(seed)
    n = g.integers(500, 3000, size=4)
    over_zero = np.zeros((4, 3, 200), dtype=np.int64)
    for j in range(4):
        p = g.beta(0.5, 2.0, size=(3, 200))
        p[:, :20] *= (g.random((3, 20)) < 0.3)  # some neurons silent in some languages
        over_zero[j] = np.round(p * n[j])
    over_zero[:, 0, 5] = 0  # never fires: 0/0 normalised to 0, entropy 0, must be filtered
    over_zero[1:, 1, 7] = 0  # fires in one language only: entropy 0
    over_zero[1:, 2, 9] = 0
    got = select_neurons(torch.tensor(over_zero), torch.tensor(n), *rates)
    want = reference_lape(over_zero, n, *rates)
    assert [got[j] for j in range(4)] == want
    assert sum(len(x) for v in want for x in v) > 0


def test_one_language_or_empty_counts_are_refused():
    with pytest.raises(MltError, match="at least two languages"):
        select_neurons(torch.ones(1, 2, 4, dtype=torch.long), torch.tensor([5]))
    with pytest.raises(MltError, match="no tokens"):
        select_neurons(torch.ones(2, 2, 4, dtype=torch.long), torch.tensor([5, 0]))
    with pytest.raises(MltError, match="top_rate"):
        select_neurons(torch.ones(2, 2, 4, dtype=torch.long), torch.tensor([5, 5]), top_rate=0)


# ------------------------------------------------------------------ counting on real tiny models
def _brute_force(ckpt, pairs):
    """Counts from forward(capture={'mlp'}) on all pairs at once: (act > 0) on non-padding tokens."""
    cache = forward(ckpt, pairs, capture={"mlp"})
    m = cache.attention_mask.bool()  # [batch, seq]
    oz = torch.stack([(cache[f"blocks.{l}.mlp.post"][m] > 0).sum(0) for l in range(cache.n_layers)])
    return oz, int(m.sum())


@pytest.mark.parametrize("fixture", ["tiny_xlmr", "tiny_qwen2"])
def test_counts_batched_equal_one_batch_and_brute_force(fixture, request):
    ckpt = load_checkpoint(request.getfixturevalue(fixture))
    pairs = list(zip(corpus_sentences("en", 12, seed=0), corpus_sentences("hi", 12, seed=0)))
    texts = corpus_sentences("fr", 30, seed=0)
    oz_small, n_small = count_activations(ckpt.model, ckpt.tokenizer, texts, batch_size=4)
    oz_big, n_big = count_activations(ckpt.model, ckpt.tokenizer, texts, batch_size=64)
    oz_one, n_one = count_activations(ckpt.model, ckpt.tokenizer, iter(texts), batch_size=1)  # no padding at all
    assert torch.equal(oz_small, oz_big) and torch.equal(oz_small, oz_one)
    assert n_small == n_big == n_one == sum(len(ckpt.tokenizer(t)["input_ids"]) for t in texts)
    oz_pairs, n_pairs = count_activations(ckpt.model, ckpt.tokenizer, pairs, batch_size=5)
    oz_ref, n_ref = _brute_force(ckpt, pairs)
    assert n_pairs == n_ref and torch.equal(oz_pairs, oz_ref)
    assert 0 < int(oz_pairs.sum()) < n_pairs * oz_pairs.numel()  # some, not all, cells fire


def test_identify_end_to_end_and_files(tiny_xlmr, tmp_path):
    ckpt = load_checkpoint(tiny_xlmr)
    corpora = {l: corpus_sentences(l, 60, seed=0) for l in ("en", "hi", "fr")}
    res = identify(ckpt, None, corpora, top_rate=0.05, batch_size=8)
    for j, l in enumerate(corpora):
        oz, n = count_activations(ckpt.model, ckpt.tokenizer, corpora[l], batch_size=16)
        assert torch.equal(res.over_zero[j], oz) and res["token_counts"][l] == n
    assert res["neurons"] == select_neurons(res.over_zero, res.n, 0.05, 0.95, 0.95, list(corpora))
    assert json.loads(json.dumps(res))["neurons"] == res["neurons"]  # JSON-ready as it is
    assert (res["n_layers"], res["d_ff"], res["selected"]) == (2, 64, round(2 * 64 * 0.05))
    path = save_neurons(res, tmp_path / "n.json")
    back = load_neurons(path, ckpt)
    assert back["neurons"] == res["neurons"] and back["settings"]["top_rate"] == 0.05
    oz, n, langs = load_counts(path)
    assert torch.equal(oz, res.over_zero) and langs == ["en", "hi", "fr"]
    # the bare-model signature the training code uses; the model's train mode is restored
    ckpt.model.train()
    again = identify(ckpt.model, ckpt.tokenizer, corpora, top_rate=0.05)
    assert again["neurons"] == res["neurons"] and ckpt.model.training
    ckpt.model.eval()


def test_neuron_file_from_another_architecture_is_refused(tiny_xlmr, tmp_path):
    f = tmp_path / "big.json"
    f.write_text(json.dumps({"settings": {}, "languages": ["en", "hi"], "n_layers": 12, "d_ff": 3072,
                             "model": "xlm-roberta-base", "neurons": {"en": [[1]] * 12, "hi": [[2]] * 12}}))
    with pytest.raises(MltError, match=r"12 layers x 3072 .* 2 layers x 64"):
        load_neurons(f, load_checkpoint(tiny_xlmr))
    f.write_text(json.dumps({"neurons": {"en": [[1], [99]], "hi": [[2], []]}}))  # no d_ff, index too big
    with pytest.raises(MltError, match="another architecture"):
        load_neurons(f, load_checkpoint(tiny_xlmr))
    f.write_text("[1, 2]")
    with pytest.raises(MltError, match="not a neuron file"):
        load_neurons(f)
    with pytest.raises(MltError, match="neurons identify"):
        load_neurons(tmp_path / "missing.json")


# ------------------------------------------------------------------ live views and switching off
def _cache(acts, mask):
    b, s = mask.shape
    return ForwardCache(model_name="m", pairs=[], input_ids=torch.zeros(b, s, dtype=torch.long), attention_mask=mask,
                        seq_ids=[], tokens=[], logits=torch.zeros(b, 3), probs=torch.zeros(b, 3), truncated=[False] * b,
                        causal=False, n_layers=len(acts), n_heads=1,
                        acts={f"blocks.{l}.mlp.post": a for l, a in enumerate(acts)})


def test_firing_and_top_neurons_by_hand():
    # one example, 3 real tokens + 1 padding token (huge values there must be ignored), 4 neurons, 2 layers
    l0 = torch.tensor([[[1.0, -0.1, 0.0, 2.0], [0.5, 0.2, -1.0, 0.0], [-0.2, 0.3, 3.0, 1.0], [9, 9, 9, 9]]])
    l1 = torch.tensor([[[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0], [2.0, -2.0, 0.0, 0.0], [9, 9, 9, 9]]])
    cache = _cache([l0, l1], torch.tensor([[1, 1, 1, 0]]))
    neurons = {"en": [[0, 1], [3]], "hi": [[2], []]}
    before = FORWARD_CALLS["n"]
    df = firing(cache, neurons).set_index(["lang", "layer"])
    assert FORWARD_CALLS["n"] == before  # read from the cache, no model run
    # en layer 0, neurons 0 and 1 over 3 tokens: values 1, -.1, .5, .2, -.2, .3 -> 4 of 6 > 0, mean 1.7 / 6
    assert df.loc[("en", 0), "share_active"] == pytest.approx(4 / 6)
    assert df.loc[("en", 0), "mean_activation"] == pytest.approx(1.7 / 6)
    assert df.loc[("hi", 0), "share_active"] == pytest.approx(1 / 3)  # 0, -1, 3
    assert df.loc[("en", 1), "mean_activation"] == pytest.approx(1 / 3)  # 0, 1, 0
    assert math.isnan(df.loc[("hi", 1), "share_active"]) and df.loc[("hi", 1), "neurons"] == 0
    assert df.loc[("en", 0), "share_active_all"] == pytest.approx(7 / 12)  # layer 0: 7 of 12 cells > 0
    top = top_neurons(cache, neurons, k=2)
    en = top[top.lang == "en"]
    # means: (0,0) 1.3/3, (0,1) .4/3, (1,3) 1/3 -> top 2: layer 0 neuron 0, then layer 1 neuron 3
    assert list(zip(en.layer, en.neuron)) == [(0, 0), (1, 3)]
    assert en.mean_activation.tolist() == pytest.approx([1.3 / 3, 1 / 3])


@pytest.mark.parametrize("fixture", ["tiny_xlmr", "tiny_qwen2"])
def test_switching_off_zeroes_exactly_those_neurons(fixture, request):
    from mlt_core.neurons.counts import switch_off

    ckpt = load_checkpoint(request.getfixturevalue(fixture))
    p, h = "A woman is reading a book.", "औरत किताब पढ़ रही है।"
    orig = forward(ckpt, [(p, h)], capture={"mlp"})
    off = switch_off(ckpt, p, h, [[3, 17, 40], []])
    a0, b0 = orig["blocks.0.mlp.post"][0], off["blocks.0.mlp.post"][0]  # [seq, d_ff]
    assert (a0[:, [3, 17, 40]] != 0).any()  # they did fire before
    assert (b0[:, [3, 17, 40]] == 0).all()
    keep = [i for i in range(a0.shape[1]) if i not in (3, 17, 40)]
    assert torch.equal(a0[:, keep], b0[:, keep])  # the rest of that layer is untouched
    assert not torch.equal(orig["blocks.1.mlp.post"], off["blocks.1.mlp.post"])  # downstream changes
    assert not torch.allclose(orig.logits, off.logits)


def test_ablation_matrix_against_direct_forwards(tiny_xlmr):
    ckpt = load_checkpoint(tiny_xlmr)
    data = generate_pairs(9, seed=0, split="test")
    data = data[data.lang.isin(["en", "hi"])].reset_index(drop=True)
    neurons = {"en": [[1, 2, 3, 4, 5, 6, 7, 8], [9]], "hi": [[], list(range(0, 64, 2))]}
    df = ablation_matrix(ckpt, data, neurons, batch_size=4).set_index(["ablated", "eval_lang"])
    pairs = list(zip(data.premise, data.hypothesis))
    for name, inter in (("none", None), ("en", {0: list(range(1, 9)), 1: [9]}), ("hi", {1: list(range(0, 64, 2))})):
        pred = forward(ckpt, pairs, capture=(), interventions=inter).probs.argmax(-1).numpy()
        for lang in ("en", "hi"):
            m = (data.lang == lang).to_numpy()
            assert df.loc[(name, lang), "accuracy"] == pytest.approx(float((pred[m] == data.label.to_numpy()[m]).mean()))
            assert df.loc[(name, lang), "n"] == m.sum()
    assert df.loc[("hi", "en"), "delta"] == pytest.approx(df.loc[("hi", "en"), "accuracy"] - df.loc[("none", "en"), "accuracy"])


# ------------------------------------------------------------------ corpora, caches, the CLI
def test_corpus_checks(tmp_path):
    with pytest.raises(MltError, match="at least two languages"):
        check_corpora({"en": ["a b c"]})
    with pytest.raises(MltError, match="empty"):
        check_corpora({"en": ["hello"], "hi": ["  ", ""]})
    w = check_corpora({"en": ["The boy eats.", "A girl reads."], "hi": ["The boy eats.", "A girl reads."]})
    assert any("Devanagari" in x for x in w) and any("near-identical" in x for x in w)
    assert check_corpora({"en": ["The boy eats."], "hi": ["लड़का खाता है।"]}) == []
    f = tmp_path / "c.txt"
    f.write_text("one line\n\n  \nsecond line\n", encoding="utf-8")
    assert load_corpus("en", str(f)) == ["one line", "second line"]
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(MltError, match="empty"):
        load_corpus("en", str(tmp_path / "empty.txt"))
    with pytest.raises(MltError, match="does not exist"):
        load_corpus("en", str(tmp_path / "nope.txt"))
    with pytest.raises(MltError, match="LANG=SOURCE"):
        parse_spec("english")
    assert parse_spec("hi=nli:sample") == ("hi", "nli:sample")
    assert load_corpus("hi", "templates:7") == corpus_sentences("hi", 7, seed=0)
    import datasets  # a `datasets` split saved to disk (a Hub id loads the same way where online)

    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"sentence": ["एक", " ", "दो"]})}).save_to_disk(tmp_path / "ds")
    assert load_corpus("hi", f"hf:{tmp_path / 'ds'}:train:sentence") == ["एक", "दो"]
    with pytest.raises(MltError, match="no column 'text'"):
        load_corpus("hi", f"hf:{tmp_path / 'ds'}:train")


def test_neuron_file_lookup_and_demo_neurons(tmp_path, monkeypatch):
    from tiny import make_tiny_checkpoint

    from mlt_core.neurons.cached import ensure_demo_neurons, neuron_file_for

    import mlt_core.model.checkpoint as ckpt_mod

    monkeypatch.setenv("MLT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(ckpt_mod, "MODELS_DIR", tmp_path)  # never the repo's models/
    base = make_tiny_checkpoint(tmp_path / "demo-base", seed=0, head=False)
    tuned = make_tiny_checkpoint(tmp_path / "demo-en", seed=1, meta={"base": "models/demo-base"})
    assert neuron_file_for(tuned)[0] is None and "neurons identify" in neuron_file_for(tuned)[1]
    logs = []
    ensure_demo_neurons(tmp_path, log=logs.append)
    assert (base / "neurons.json").is_file() and (tuned / "neurons.json").is_file() and len(logs) == 2
    stamp = (base / "neurons.json").stat().st_mtime_ns
    ensure_demo_neurons(tmp_path, log=logs.append)  # idempotent: nothing recomputed
    assert (base / "neurons.json").stat().st_mtime_ns == stamp and len(logs) == 2
    make_tiny_checkpoint(tuned, seed=2, meta={"base": "models/demo-base"})  # new weights: its file is stale
    ensure_demo_neurons(tmp_path, log=logs.append)
    assert logs[2] == "demo-en: its neuron file predates its current weights; recomputing" and len(logs) == 4
    assert load_neurons(tuned)["checkpoint_fingerprint"] != load_neurons(base)[
        "checkpoint_fingerprint"]
    (tuned / "neurons.json").unlink()
    f, where = neuron_file_for(tuned)  # falls back to the base's, by folder name beside the checkpoint
    assert f == base / "neurons.json" and "base model demo-base" in where
    obj = load_neurons(f)
    assert obj["languages"] == ["en", "hi", "fr", "es"] and obj["token_counts"]["hi"] > 0


def test_compare_checkpoints_against_direct_counts(tiny_xlmr, tiny_xlmr_b, tmp_path, monkeypatch):
    from mlt_core.neurons.cached import compare_checkpoints

    monkeypatch.setenv("MLT_CACHE_DIR", str(tmp_path / "cache"))
    a, b = load_checkpoint(tiny_xlmr), load_checkpoint(tiny_xlmr_b)
    corpora = {l: corpus_sentences(l, 40, seed=0) for l in ("en", "hi")}
    probs, overlap = compare_checkpoints([a, b, a], corpora, settings={"top_rate": 0.1})
    counts_a = [count_activations(a.model, a.tokenizer, corpora[l]) for l in corpora]
    counts_b = [count_activations(b.model, b.tokenizer, corpora[l]) for l in corpora]
    base = select_neurons(torch.stack([c[0] for c in counts_a]), torch.tensor([c[1] for c in counts_a]), 0.1,
                          languages=["en", "hi"])
    own_b = select_neurons(torch.stack([c[0] for c in counts_b]), torch.tensor([c[1] for c in counts_b]), 0.1,
                           languages=["en", "hi"])
    for lang, (oz, n) in zip(corpora, counts_b):  # the base's L neurons on L text inside model b
        cells = [(l, i) for l, idx in enumerate(base[lang]) for i in idx]
        want = np.mean([oz[l, i].item() / n for l, i in cells])
        got = probs[(probs.checkpoint == "tiny-xlmr-b") & (probs.set_lang == lang) & (probs.text_lang == lang)].prob
        assert got.item() == pytest.approx(want)
        sa = {(l, i) for l, idx in enumerate(own_b[lang]) for i in idx}
        sb = set(cells)
        row = overlap[(overlap.checkpoint == "tiny-xlmr-b") & (overlap.lang == lang)].iloc[0]
        assert row.jaccard == pytest.approx(len(sa & sb) / len(sa | sb)) and row.shared == len(sa & sb)
    same = overlap[overlap.checkpoint == "tiny-xlmr (2)"]  # the base again: identical sets
    assert same.jaccard.tolist() == [1.0, 1.0]
    assert compare_checkpoints([a, b], corpora, settings={"top_rate": 0.1}, peek=True) is not None  # cached


def test_cli_identify_show_and_errors(tiny_xlmr, tiny_qwen2, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MLT_CACHE_DIR", str(tmp_path / "cache"))
    files = {}
    for lang in ("en", "hi"):
        files[lang] = tmp_path / f"{lang}.txt"
        files[lang].write_text("\n".join(corpus_sentences(lang, 50, seed=3)) + "\n", encoding="utf-8")
    out = tmp_path / "out" / "n.json"
    rc = main(["neurons", "identify", "--model", str(tiny_xlmr), "--corpus", f"en={files['en']}",
               "--corpus", f"hi={files['hi']}", "--top-rate", "0.05", "--out", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0 and out.is_file() and "layer" in printed and "shared neurons" in printed
    ckpt = load_checkpoint(tiny_xlmr)
    corpora = {l: files[l].read_text(encoding="utf-8").split("\n")[:-1] for l in ("en", "hi")}
    direct = identify(ckpt, None, corpora, top_rate=0.05)
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert saved["neurons"] == direct["neurons"] and saved["token_counts"] == direct["token_counts"]
    assert saved["settings"] == {"top_rate": 0.05, "filter_rate": 0.95, "activation_bar_ratio": 0.95}
    totals = [sum(map(len, saved["neurons"][l])) for l in ("en", "hi")]
    assert printed.splitlines()[5].split()[1:] == [str(t) for t in totals]  # the "total" row
    assert main(["neurons", "show", str(out), "--model", str(tiny_qwen2)]) == 0  # same shape: 2 x 64
    capsys.readouterr()
    assert main(["neurons", "identify", "--model", str(tiny_xlmr), "--corpus", f"en={files['en']}"]) == 2
    assert "error: LAPE needs corpora in at least two languages" in capsys.readouterr().err
    assert main(["neurons", "show", str(tmp_path / "none.json")]) == 2
    assert "error: no neuron file" in capsys.readouterr().err


def test_cli_ablate_equals_the_matrix(tiny_xlmr, tmp_path, capsys, monkeypatch):
    from mlt_core.data.nli import load_nli

    monkeypatch.setenv("MLT_CACHE_DIR", str(tmp_path / "cache"))
    neurons = {"en": [[0, 5, 9], [1, 2]], "hi": [[7], list(range(10, 40))]}
    f = tmp_path / "n.json"
    f.write_text(json.dumps({"neurons": neurons, "n_layers": 2, "d_ff": 64}), encoding="utf-8")
    argv = ["neurons", "ablate", "--model", str(tiny_xlmr), "--neurons", str(f), "--langs", "en,hi", "--limit", "6"]
    assert main(argv + ["--json"]) == 0
    got = pd.DataFrame(json.loads(capsys.readouterr().out)).set_index(["ablated", "eval_lang"])
    want = ablation_matrix(load_checkpoint(tiny_xlmr), load_nli("sample", langs=["en", "hi"], limit=6), neurons)
    pd.testing.assert_series_equal(got["accuracy"], want.set_index(["ablated", "eval_lang"])["accuracy"])
    assert main(argv) == 0  # the table, read back from the disk cache
    table = capsys.readouterr().out.splitlines()
    assert table[2].split() == ["none", *(f"{v:.3f}" for v in got.loc["none", "accuracy"])]
    assert main(["neurons", "ablate", "--model", str(tiny_xlmr)]) == 2  # tiny-xlmr has no neuron file
    assert "neurons identify" in capsys.readouterr().err
