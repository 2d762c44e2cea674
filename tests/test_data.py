"""load_nli on every source: the bundled sample, XNLI / XNLI-MT files, JSONL/CSV/Parquet, the Hub offline."""
import json
import time

import pandas as pd
import pytest

from mlt_core.data.nli import NLI_COLUMNS, load_nli, languages, parallel_pairs
from mlt_core.errors import MltError

HEADER = ("language gold_label sentence1_binary_parse sentence2_binary_parse sentence1_parse sentence2_parse "
          "sentence1 sentence2 promptID pairID genre label1 label2 label3 label4 label5 sentence1_tokenized "
          "sentence2_tokenized match").split()


def _xnli_row(lang, gold, s1, s2, prompt, pair):
    # real layout: empty parse columns, five annotator labels, tokenized copies, match flag
    return [lang, gold, "", "", "", "", s1, s2, str(prompt), str(pair), "facetoface",
            gold, gold, gold, gold, gold, s1, s2, "True"]


def _write_tsv(path, rows, header=HEADER):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join("\t".join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def xnli_folder(tmp_path):
    test_rows = [
        _xnli_row("en", "contradiction", 'He said "no" and left.', "He stayed.", 2, 4),  # bare quotes
        _xnli_row("en", "entailment", "The cat sleeps.", "An animal sleeps.", 3, 5),
        _xnli_row("hi", "contradiction", 'उसने "नहीं" कहा और चला गया।', "वह रुका रहा।", 2, 4),
        _xnli_row("hi", "entailment", "बिल्ली सो रही है।", "एक जानवर सो रहा है।", 3, 5),
        _xnli_row("en", "neutral", "A man walks.", "A man walks home.", 3, 6),
        _xnli_row("hi", "neutral", "एक आदमी चलता है।", "एक आदमी घर जाता है।", 3, 6),
    ]
    _write_tsv(tmp_path / "XNLI-1.0" / "xnli.test.tsv", test_rows)
    _write_tsv(tmp_path / "XNLI-1.0" / "xnli.dev.tsv", [_xnli_row("en", "neutral", "A.", "B.", 1, 1)])
    mt = tmp_path / "XNLI-MT-1.0" / "multinli"
    _write_tsv(mt / "multinli.train.hi.tsv", [["एक", "दो", "contradictory"], ["तीन", "चार", "entailment"]],
               header=["premise", "hypo", "label"])
    _write_tsv(mt / "multinli.train.en.tsv", [["one", "two", "contradictory"], ["three", "four", "entailment"]],
               header=["premise", "hypo", "label"])
    return tmp_path


def test_xnli_tsv_round_trip(xnli_folder):
    df = load_nli(str(xnli_folder / "XNLI-1.0" / "xnli.test.tsv"))
    assert list(df.columns) == NLI_COLUMNS
    assert df["lang"].tolist() == ["en"] * 3 + ["hi"] * 3  # sorted by language, then file order
    assert df["id"].tolist() == ["4", "5", "6"] * 2
    assert df["label"].tolist() == [2, 0, 1] * 2 and str(df["label"].dtype) == "int64"
    assert df["premise"].iloc[0] == 'He said "no" and left.'  # quotes kept verbatim
    assert parallel_pairs(df, 4)["premise"].tolist() == ['He said "no" and left.', 'उसने "नहीं" कहा और चला गया।']
    assert languages(df) == ["en", "hi"]


def test_folder_picks_file_by_split(xnli_folder):
    assert len(load_nli(str(xnli_folder), split="test")) == 6
    assert load_nli(str(xnli_folder), split="dev")["premise"].tolist() == ["A."]
    assert load_nli(str(xnli_folder), split="validation")["premise"].tolist() == ["A."]
    train = load_nli(str(xnli_folder), langs=["hi", "en"], split="train")
    assert train["lang"].tolist() == ["en", "en", "hi", "hi"]
    assert train["label"].tolist() == [2, 0, 2, 0]
    assert train["id"].tolist()[:2] == train["id"].tolist()[2:]  # row-aligned translations share ids
    with pytest.raises(MltError, match="it has: en, hi"):
        load_nli(str(xnli_folder), langs=["fr"], split="train")


def test_xnli_mt_file_contradictory_and_language_from_name(xnli_folder):
    df = load_nli(str(xnli_folder / "XNLI-MT-1.0" / "multinli" / "multinli.train.hi.tsv"))
    assert df["lang"].tolist() == ["hi", "hi"] and df["label"].tolist() == [2, 0]
    assert df["hypothesis"].tolist() == ["दो", "चार"]


def test_jsonl_with_string_and_int_labels(tmp_path):
    path = tmp_path / "pairs.jsonl"
    rows = [{"premise": "p1", "hypothesis": "h1", "label": "entailment", "lang": "en", "id": 7},
            {"premise": "p2", "hypothesis": "h2", "label": 2, "lang": "en", "id": 8},
            {"premise": "p3", "hypothesis": "h3", "label": "Contradictory", "language": "x", "lang": "fr", "id": 7},
            {"premise": "p4", "hypothesis": "h4", "label": 1, "lang": "fr", "id": 9}]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    df = load_nli(str(path), limit=1)
    assert df.to_dict("list") == {"id": ["7", "7"], "lang": ["en", "fr"], "premise": ["p1", "p3"],
                                  "hypothesis": ["h1", "h3"], "label": [0, 2]}
    assert load_nli(str(path))["label"].tolist() == [0, 2, 2, 1]


def test_csv_and_parquet_without_lang_take_the_file_name_or_the_one_language(tmp_path):
    frame = pd.DataFrame({"premise": ["a", "b", "c"], "hypothesis": ["x", "y", "z"], "label": [0, 1, 2]})
    frame.to_csv(tmp_path / "train.es.csv", index=False)
    df = load_nli(str(tmp_path / "train.es.csv"))
    assert df["lang"].tolist() == ["es"] * 3 and df["id"].tolist() == ["row-000000", "row-000001", "row-000002"]
    frame.to_parquet(tmp_path / "pairs.parquet")
    assert load_nli(str(tmp_path / "pairs.parquet"), langs=["de"])["label"].tolist() == [0, 1, 2]
    with pytest.raises(MltError, match="no lang"):
        load_nli(str(tmp_path / "pairs.parquet"))


def test_bad_label_names_file_row_and_value(tmp_path):
    path = tmp_path / "bad.jsonl"
    rows = [{"premise": "p", "hypothesis": "h", "label": lab, "lang": "en"} for lab in ("neutral", 0, "maybe")]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    with pytest.raises(MltError, match=r"bad\.jsonl: row 3 .*'maybe'"):
        load_nli(str(path))
    tsv = _write_tsv(tmp_path / "xnli.test.tsv", [_xnli_row("en", "neutral", "a", "b", 1, 1),
                                                  _xnli_row("en", "-", "c", "d", 1, 2)])
    with pytest.raises(MltError, match=r"row 2 \(line 3\): label '-'"):
        load_nli(str(tsv))
    pd.DataFrame({"premise": ["a"], "hypothesis": ["b"], "label": [3], "lang": ["en"]}).to_csv(
        tmp_path / "three.csv", index=False)
    with pytest.raises(MltError, match=r"three\.csv: row 1 \(line 2\): label '3'"):
        load_nli(str(tmp_path / "three.csv"))


def test_missing_columns_are_named(tmp_path):
    path = tmp_path / "half.jsonl"
    path.write_text(json.dumps({"premise": "p", "label": 0, "lang": "en"}), encoding="utf-8")
    with pytest.raises(MltError, match=r"half\.jsonl: missing column\(s\) hypothesis"):
        load_nli(str(path))


def test_empty_text_names_the_row(tmp_path):
    path = tmp_path / "empty.jsonl"
    rows = [{"premise": "p", "hypothesis": "h", "label": 0, "lang": "en"},
            {"premise": "  ", "hypothesis": "h", "label": 0, "lang": "en"}]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    with pytest.raises(MltError, match="row 2 .*empty premise"):
        load_nli(str(path))


def test_unknown_language_lists_the_ones_there():
    with pytest.raises(MltError, match="no de pairs .* it has: en, es, fr, hi"):
        load_nli("sample", langs=["en", "de"])


def test_bundled_sample():
    df = load_nli()
    assert list(df.columns) == NLI_COLUMNS and languages(df) == ["en", "es", "fr", "hi"]
    counts = df.groupby(["lang", "label"]).size()
    assert len(counts) == 12 and counts.nunique() == 1 and counts.iloc[0] >= 60
    assert (df.groupby("id")["lang"].nunique() == 4).all() and (df.groupby("id")["label"].nunique() == 1).all()
    first = parallel_pairs(df, df["id"].iloc[0])
    assert first["lang"].tolist() == ["en", "es", "fr", "hi"]
    limited = load_nli("sample", langs=["hi", "en"], limit=5)
    assert limited["lang"].tolist() == ["en"] * 5 + ["hi"] * 5
    assert limited["id"].tolist()[:5] == limited["id"].tolist()[5:] == df["id"].tolist()[:5]
    with pytest.raises(MltError, match="only a test split"):
        load_nli("sample", split="train")


def test_hub_offline_fails_fast_with_download_instructions(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", "/nonexistent/mlt-empty-cache")
    start = time.perf_counter()
    with pytest.raises(MltError, match=r"XNLI-1\.0\.zip.*XNLI-MT-1\.0\.zip.*--data"):
        load_nli("xnli", langs=["hi"], split="test")
    elapsed = time.perf_counter() - start
    print(f"offline Hub failure after {elapsed:.2f}s")
    assert elapsed < 10  # in practice ~1-2 s, most of it importing `datasets`


def test_hub_unreachable_fails_fast(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    start = time.perf_counter()
    with pytest.raises(MltError, match=r"cannot reach the Hugging Face Hub \(127\.0\.0\.1:9.*XNLI-1\.0\.zip"):
        load_nli("xnli", langs=["en"])
    assert time.perf_counter() - start < 10  # the socket check gives up after 3 s at most


def test_hub_rejects_unknown_language_and_split_before_any_network():
    with pytest.raises(MltError, match="XNLI has no xx"):
        load_nli("xnli", langs=["xx"])
    with pytest.raises(MltError, match="split must be"):
        load_nli("xnli", langs=["en"], split="nope")


def test_unknown_source_and_parallel_miss():
    with pytest.raises(MltError, match="neither 'sample', 'xnli'"):
        load_nli("/no/such/file.tsv")
    with pytest.raises(MltError, match="no pair with id"):
        parallel_pairs(load_nli(langs=["en"], limit=3), "nope")
