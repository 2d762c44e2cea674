"""Fertility on hand-counted sentences, the offset-based word mapping against per-word tokenisation,
correlations against numpy/pandas, the offline Hub error and the CLI."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlt_core.cli import main
from mlt_core.errors import MltError
from mlt_core.eval.fertility import (correlate, fertility, fertility_faithfulness, load_tokenizer, texts_of,
                                     word_pieces, words)


@pytest.fixture(scope="module")
def wordpiece():
    """A WordPiece tokenizer with a vocabulary small enough to count by hand."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "the", "cat", "##s", "sat", "on", "mat", "dog", "##gy",
             "नम", "##स्ते", "दुनिया", "are", "sleeping", ".", "।"]
    tok = Tokenizer(models.WordPiece({w: i for i, w in enumerate(vocab)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]",
                                   pad_token="[PAD]")


def test_words_split_off_edge_punctuation():
    assert words("The cat is sleeping.") == ["The", "cat", "is", "sleeping", "."]
    assert words('"Hola," dijo... (sí)') == ['"', "Hola", ',"', "dijo", "...", "(", "sí", ")"]
    assert words("don't stop 3.5 ...") == ["don't", "stop", "3.5", "..."]  # inner punctuation stays
    # Devanagari: the danda (U+0964) and double danda (U+0965) are punctuation; vowel signs and the virama are not
    assert words("यह अच्छा है। नमस्ते दुनिया॥") == ["यह", "अच्छा", "है", "।", "नमस्ते", "दुनिया", "॥"]
    assert words("  ") == [] and words("।") == ["।"]


def test_hand_counted(wordpiece):
    # "the cats sat on the mat" -> the | cat ##s | sat | on | the | mat        6 words, 7 subwords, 1 split
    #   non-space characters: 3+4+3+2+3+3 = 18
    # "the doggy zebra"         -> the | dog ##gy | [UNK]                      3 words, 4 subwords, 1 split, 1 unk
    #   characters: 3+5+5 = 13
    # "the cats are sleeping."  -> the | cat ##s | are | sleeping | .         5 words, 6 subwords, 1 split
    #   ("sleeping." is the word "sleeping", 1 subword, and the word ".", 1 subword: neither is split)
    #   characters: 3+4+3+9 = 19
    # "नमस्ते दुनिया"            -> नम ##स्ते | दुनिया                          2 words, 3 subwords, 1 split
    #   characters (code points): न म स ् त े = 6, द ु न ि य ा = 6 -> 12
    # "दुनिया नमस्ते।"           -> दुनिया | नम ##स्ते | ।                      3 words, 4 subwords, 1 split
    #   (the danda is a word of its own; नमस्ते with its virama and vowel sign stays one word)
    #   characters: 6 + 6 + 1 = 13
    assert wordpiece.tokenize("the cats sat on the mat") == ["the", "cat", "##s", "sat", "on", "the", "mat"]
    assert wordpiece.tokenize("the doggy zebra") == ["the", "dog", "##gy", "[UNK]"]
    assert wordpiece.tokenize("the cats are sleeping.") == ["the", "cat", "##s", "are", "sleeping", "."]
    assert wordpiece.tokenize("नमस्ते दुनिया") == ["नम", "##स्ते", "दुनिया"]
    assert wordpiece.tokenize("दुनिया नमस्ते।") == ["दुनिया", "नम", "##स्ते", "।"]
    assert word_pieces(wordpiece, "the cats sat on the mat") == ([1, 2, 1, 1, 1, 1], 0)
    assert word_pieces(wordpiece, "the doggy zebra") == ([1, 2, 1], 1)
    assert word_pieces(wordpiece, "the cats are sleeping.") == ([1, 2, 1, 1, 1], 0)
    assert word_pieces(wordpiece, "दुनिया नमस्ते।") == ([1, 2, 1], 0)
    texts = pd.DataFrame({"lang": ["en", "en", "en", "hi", "hi"],
                          "text": ["the cats sat on the mat", "the doggy zebra", "the cats are sleeping.",
                                   "नमस्ते दुनिया", "दुनिया नमस्ते।"]})
    df = fertility({"wp": wordpiece}, texts).set_index("lang")
    en, hi = df.loc["en"], df.loc["hi"]
    assert (en.texts, en.words, en.subwords, en.chars, en.unk, en.split_words) == (3, 14, 17, 50, 1, 3)
    assert en.fertility == pytest.approx(17 / 14)
    assert en.subwords_per_100_chars == pytest.approx(1700 / 50)
    assert en.unk_rate == pytest.approx(1 / 17) and en.split_share == pytest.approx(3 / 14)
    assert (hi.words, hi.subwords, hi.chars, hi.split_words) == (5, 7, 25, 2)
    assert hi.fertility == pytest.approx(7 / 5) and hi.subwords_per_100_chars == pytest.approx(28.0)
    assert hi.split_share == pytest.approx(2 / 5)


def test_sentence_final_punctuation_is_not_a_split(wordpiece):
    """The old whitespace words made "sleeping." (sleeping | .) and "नमस्ते।" split; now only "cats" is."""
    from tiny import tiny_tokenizer

    tok = tiny_tokenizer()
    assert tok.tokenize("The cat is sleeping.")[-1] == "."  # the full stop is its own subword
    counts, _ = word_pieces(tok, "The cat is sleeping.")
    assert len(counts) == 5 and counts[-1] == 1 and counts[-2] == len(tok.tokenize(" sleeping"))
    counts, _ = word_pieces(wordpiece, "the cats are sleeping.")
    assert [c > 1 for c in counts] == [False, True, False, False, False]
    counts, _ = word_pieces(wordpiece, "दुनिया नमस्ते।")
    assert [c > 1 for c in counts] == [False, True, False]


def test_offsets_agree_with_per_word_tokenisation():
    """For a Metaspace tokenizer (punctuation pre-split) a chunk cut alone is cut as in the sentence: the
    offset mapping and the per-chunk fallback must agree, and add up to the whole text's subwords."""
    from mlt_core.data.templates import corpus_sentences
    from tiny import tiny_tokenizer

    tok = tiny_tokenizer()
    for lang in ("en", "hi", "fr", "es"):
        for text in corpus_sentences(lang, 25, seed=3):
            counts, _ = word_pieces(tok, text)
            assert counts == word_pieces(tok, text, offsets=False)[0], (lang, text)
            assert len(counts) == len(words(text)) and min(counts) >= 1, (lang, text)
            assert sum(counts) == len(tok(text, add_special_tokens=False)["input_ids"])
            # a chunk without edge punctuation is one word, cut exactly as when tokenised alone
            for w, c in zip(words(text), counts):
                if w in text.split():
                    assert c == len(tok(w, add_special_tokens=False)["input_ids"]), (lang, w)


def test_texts_are_distinct_premises_and_hypotheses():
    pairs = pd.DataFrame({"lang": ["en"] * 3, "premise": ["p one", "p one", "p one"],
                          "hypothesis": ["h a", "h b", "h a"]})
    assert sorted(texts_of(pairs)["text"]) == ["h a", "h b", "p one"]
    with pytest.raises(MltError, match="no text"):
        texts_of(pairs.iloc[:0])


def test_correlate_against_numpy_and_ranks():
    x = [1.1, 1.4, 1.9, 2.5, 3.0]
    y = [0.9, 0.7, 0.75, 0.4, 0.2]
    r = correlate(x, y)
    assert r["n"] == 5
    assert r["pearson"] == pytest.approx(np.corrcoef(x, y)[0, 1])
    rx, ry = pd.Series(x).rank(), pd.Series(y).rank()
    assert r["spearman"] == pytest.approx(np.corrcoef(rx, ry)[0, 1])
    assert np.isnan(correlate([1, 2], [3, 4])["pearson"])  # too few points: no number
    assert correlate([1, 2, np.nan, 4], [1, 3, 2, np.nan])["n"] == 2


def test_fertility_faithfulness_merges_model_tokenizers():
    fert = pd.DataFrame({"tokenizer": ["m1", "m1", "m2", "m2"], "lang": ["en", "hi"] * 2,
                         "fertility": [1.1, 2.0, 1.3, 2.6]})
    faith = pd.DataFrame({"model": ["m1", "m1", "m2", "m2"], "lang": ["en", "hi"] * 2, "method": ["ig"] * 4,
                          "NS": [0.5, 0.3, 0.6, 0.1], "NC": [0.4, 0.4, 0.5, 0.2],
                          "soft_NS": [0.5, 0.3, 0.6, 0.1], "soft_NC": [0.4, 0.4, 0.5, 0.2]})
    out = fertility_faithfulness(fert, faith).set_index("metric")
    assert (out["n"] == 4).all()
    assert out.loc["NS", "pearson"] == pytest.approx(np.corrcoef([1.1, 2.0, 1.3, 2.6], [0.5, 0.3, 0.6, 0.1])[0, 1])


def test_hub_tokenizer_offline_is_a_clear_error():
    with pytest.raises(MltError, match="offline"):
        load_tokenizer("no-such-org-mlt/no-such-tokenizer")


def test_cli_fertility_json(tiny_xlmr, capsys):
    import regex

    from mlt_core.data.nli import load_nli
    from tiny import tiny_tokenizer

    rc = main(["fertility", "--tokenizer", str(tiny_xlmr), "--data", "sample", "--langs", "en", "hi", "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert rc == 0 and [r["lang"] for r in rows] == ["en", "hi"]
    pairs = load_nli("sample", ["en", "hi"], "test")
    tok = tiny_tokenizer()
    for r in rows:  # recount independently: every distinct text, whole-text token counts
        texts = set(pairs.loc[pairs.lang == r["lang"], "premise"]) | set(pairs.loc[pairs.lang == r["lang"], "hypothesis"])
        assert r["texts"] == len(texts)
        assert r["subwords"] == sum(len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts)
        # words: a run of punctuation (\p{P}) at either end of a whitespace chunk is a word of its own
        word = regex.compile(r"\p{P}+|[^\s\p{P}](?:\S*[^\s\p{P}])?")
        assert r["words"] == sum(len(word.findall(t)) for t in texts)
        assert r["words"] > sum(len(t.split()) for t in texts)  # sentence-final stops count as words
    rc = main(["fertility", "--tokenizer", "no-such-org-mlt/no-such-tokenizer", "--langs", "en"])
    assert rc == 2 and "offline" in capsys.readouterr().err


def _reference_fertility(tokenizer, testing_text_list):
    """casszhao/multilingual-faith fertility.ipynb get_one_lan_one_model, transcribed (non-Chinese branch)."""
    token_id_list = []
    total_text_len = 0
    for i, text in enumerate(testing_text_list):
        text_length = len(text.split(' '))
        total_text_len += text_length
        one_text_id = tokenizer(text)['input_ids']
        token_id_list = token_id_list + one_text_id
    total_token_len = len(token_id_list) - (len(testing_text_list) * 2)  # remove the first and the last id
    return total_token_len / total_text_len


def test_spaces_definition_is_the_reference_formula(wordpiece):
    from mlt_core.data.nli import load_nli
    from tiny import tiny_tokenizer

    # by hand: "the cats are sleeping." -> the | cat ##s | are | sleeping . : 4 words, 6 subwords, 2 split
    hand = fertility({"wp": wordpiece}, pd.DataFrame({"lang": ["en"], "text": ["the cats are sleeping."]}), "spaces")
    assert hand.attrs["words"] == "spaces"
    assert hand.loc[0, ["words", "subwords", "split_words"]].tolist() == [4, 6, 2]
    assert words("the cats are sleeping.", "spaces") == ["the", "cats", "are", "sleeping."]
    tok = tiny_tokenizer()
    texts = texts_of(load_nli("sample", ["en", "hi"], "test"))
    ours = fertility({"tiny": tok}, texts, words="spaces").set_index("lang")["fertility"]
    rust = fertility({"tiny": tok}, texts).set_index("lang")["fertility"]
    for lang in ("en", "hi"):
        want = _reference_fertility(tok, texts.loc[texts.lang == lang, "text"].tolist())
        assert ours[lang] == pytest.approx(want, rel=1e-12)
        assert ours[lang] > rust[lang]  # sentence-final punctuation no longer counts as a word
    with pytest.raises(MltError, match="unknown word definition"):
        fertility({"tiny": tok}, texts, words="whitespace")
    rc = main(["fertility", "--tokenizer", "no-such-org-mlt/x", "--words", "spaces", "--langs", "en"])
    assert rc == 2
