"""The template generator: balanced, parallel, deterministic, disjoint splits, grammatical, learnable."""
import csv
import re

import pandas as pd
import pytest

from mlt_core.data.templates import LANGS, Clause, corpus_sentences, generate_pairs, render, write_xnli_tsv
from mlt_core.errors import MltError


@pytest.fixture(scope="module")
def train():
    return generate_pairs(3000, seed=0, split="train")


@pytest.fixture(scope="module")
def test_pairs():
    return generate_pairs(300, seed=0, split="test")


@pytest.mark.parametrize("n, counts", [(30, [10, 10, 10]), (31, [11, 10, 10]), (32, [11, 11, 10]), (0, [0, 0, 0])])
def test_labels_balanced_exactly_per_language(n, counts):
    df = generate_pairs(n, seed=3)
    assert list(df.columns) == ["id", "lang", "premise", "hypothesis", "label"]
    assert len(df) == n * len(LANGS)
    for lang in LANGS:
        got = df[df["lang"] == lang]["label"].value_counts().reindex([0, 1, 2], fill_value=0).tolist()
        assert got == counts, (lang, got)


def test_parallel_ids_same_label_in_every_language(train):
    assert set(train["lang"]) == set(LANGS)
    by_id = train.groupby("id")
    assert (by_id["lang"].nunique() == len(LANGS)).all()
    assert (by_id["label"].nunique() == 1).all()
    wide = train.pivot(index="id", columns="lang", values="premise")
    assert wide["hi"].str.contains(r"[\u0900-\u097F]").all()  # Devanagari, not a copy of English
    assert (wide["en"] != wide["fr"]).all() and (wide["fr"] != wide["es"]).all()
    assert train[train["lang"] == "en"]["id"].iloc[:3].tolist() == ["train-000000", "train-000001", "train-000002"]
    assert all(isinstance(i, str) for i in train["id"])


def test_deterministic_and_seed_dependent():
    a = generate_pairs(60, seed=7, split="train")
    pd.testing.assert_frame_equal(a, generate_pairs(60, seed=7, split="train"))
    assert not a.equals(generate_pairs(60, seed=8, split="train"))


def test_train_and_test_never_share_a_pair_or_a_premise(train):
    test = generate_pairs(600, seed=5, split="test")
    for lang in LANGS:
        tr, te = train[train["lang"] == lang], test[test["lang"] == lang]
        assert not set(zip(tr["premise"], tr["hypothesis"])) & set(zip(te["premise"], te["hypothesis"]))
        assert not set(tr["premise"]) & set(te["premise"])  # stronger: held out by (subject, activity)


def test_no_duplicate_pairs_within_a_split(train):
    for lang in LANGS:
        sub = train[train["lang"] == lang]
        assert not sub.duplicated(["premise", "hypothesis"]).any()


def test_unknown_split_is_an_error():
    with pytest.raises(MltError, match="split"):
        generate_pairs(3, split="dev")


def test_grammar_of_hand_checked_sentences():
    # expected strings written by hand: gender agreement, articles, elision, French negation
    cases = [
        (Clause("girl", act="apple"), {"en": "A girl is eating an apple.", "hi": "एक लड़की सेब खा रही है।",
                                        "fr": "Une fille mange une pomme.", "es": "Una chica está comiendo una manzana."}),
        (Clause("boy", "def", act="apple", neg=True),
         {"en": "The boy is not eating an apple.", "hi": "लड़का सेब नहीं खा रहा है।",
          "fr": "Le garçon ne mange pas de pomme.", "es": "El chico no está comiendo una manzana."}),
        (Clause("man", adj="old", act="sleep", place="park"),
         {"en": "An old man is sleeping in the park.", "hi": "एक बूढ़ा आदमी पार्क में सो रहा है।",
          "fr": "Un vieil homme dort dans le parc.", "es": "Un hombre mayor está durmiendo en el parque."}),
        (Clause("woman", "def", act="sleep", neg=True),
         {"en": "The woman is not sleeping.", "hi": "औरत सो नहीं रही है।", "fr": "La femme ne dort pas.",
          "es": "La mujer no está durmiendo."}),
        (Clause("student_f", "def", act="write", reason="sad"),
         {"en": "The student is writing a letter because she is sad.",
          "hi": "छात्रा चिट्ठी लिख रही है क्योंकि वह उदास है।",
          "fr": "L'étudiante écrit une lettre parce qu'elle est triste.",
          "es": "La estudiante está escribiendo una carta porque está triste."}),
        (Clause("cow", "noanimal", act="grass", time="morning"),
         {"en": "No animal is eating grass in the morning.", "hi": "कोई भी जानवर सुबह घास नहीं खा रहा है।",
          "fr": "Aucun animal ne mange d'herbe le matin.", "es": "Ningún animal está comiendo hierba por la mañana."}),
        (Clause("girl", "def", state="tired"),
         {"en": "The girl is tired.", "hi": "लड़की थकी हुई है।", "fr": "La fille est fatiguée.",
          "es": "La chica está cansada."}),
        (Clause("boy", "nobody", act="cycle"),
         {"en": "Nobody is riding a bicycle.", "hi": "कोई भी साइकिल नहीं चला रहा है।", "fr": "Personne ne fait de vélo.",
          "es": "Nadie está montando en bicicleta."}),
    ]
    for clause, expected in cases:
        for lang, text in expected.items():
            assert render(lang, clause) == text


def test_label_follows_from_surface_relations(train):
    """Independent rules on the English text: dropping modifiers entails, negating the premise contradicts."""
    en = train[train["lang"] == "en"]
    checked = 0
    for p, h, y in zip(en["premise"], en["hypothesis"], en["label"]):
        m = re.fullmatch(r"The (\w+(?: \w+)?) is (not )?(.+)\.", h)
        pm = re.match(r"An? (?:(?:young|old|little|big) )?(\w+(?: \w+)?) is (.+?)(?: (?:in|on|at|because) .*)?\.$", p)
        if not (m and pm) or m.group(1) != pm.group(1) or m.group(3) != pm.group(2):
            continue
        checked += 1
        assert y == (2 if m.group(2) else 0), (p, h, y)
    assert checked > 150


def test_corpus_sentences():
    hi = corpus_sentences("hi", 200, seed=1)
    assert len(hi) == 200 and len(set(hi)) == 200
    assert all(re.search(r"[\u0900-\u097F]", s) for s in hi)
    assert hi == corpus_sentences("hi", 200, seed=1)
    assert corpus_sentences("en", 50)[0].endswith(".")
    with pytest.raises(MltError, match="de"):
        corpus_sentences("de", 5)


def test_bundled_sample_is_what_the_command_writes(tmp_path):
    from mlt_core.data.nli import SAMPLE_DIR

    fresh = write_xnli_tsv(tmp_path / "xnli.test.tsv")
    assert fresh.read_bytes() == (SAMPLE_DIR / "xnli.test.tsv").read_bytes(), \
        "templates changed: run python -m mlt_core.data.templates --out data/sample"


def test_bundled_sample_layout():
    from mlt_core.data.nli import SAMPLE_DIR

    with open(SAMPLE_DIR / "xnli.test.tsv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    header = ("language gold_label sentence1_binary_parse sentence2_binary_parse sentence1_parse sentence2_parse "
              "sentence1 sentence2 promptID pairID genre label1 label2 label3 label4 label5 sentence1_tokenized "
              "sentence2_tokenized match").split()
    assert rows[0] == header
    body = pd.DataFrame(rows[1:], columns=header)
    assert body["language"].tolist() == sorted(body["language"])  # grouped by language, like the release
    counts = body.groupby(["language", "gold_label"]).size()
    assert set(body["language"]) == set(LANGS) and (counts >= 60).all() and len(counts) == 12
    assert (body["label1"] == body["gold_label"]).all() and set(body["genre"]) == {"mlt-template"}


def _bow(p: str, h: str, hypothesis_only: bool) -> dict:
    """Bag of words; with the premise: its words, and the words only one side has (the cheap cross-feature)."""
    words = lambda s: re.findall(r"\w+", s.lower())  # noqa: E731
    wp, wh = set(words(p)), set(words(h))
    f = {f"h:{w}": 1 for w in wh}
    if not hypothesis_only:
        f.update({f"p:{w}": 1 for w in wp})
        f.update({f"new:{w}": 1 for w in wh - wp})
        f.update({f"gone:{w}": 1 for w in wp - wh})
    return f


def test_learnable_from_pairs_but_not_from_hypotheses_alone(train):
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    from mlt_core.data.nli import load_nli

    tr = train[train["lang"] == "en"]
    te = load_nli("sample", langs=["en"])  # held-out (subject, activity) combinations
    acc = {}
    for hyp_only in (True, False):
        vec = DictVectorizer()
        x_tr = vec.fit_transform([_bow(p, h, hyp_only) for p, h in zip(tr["premise"], tr["hypothesis"])])
        x_te = vec.transform([_bow(p, h, hyp_only) for p, h in zip(te["premise"], te["hypothesis"])])
        clf = LogisticRegression(max_iter=2000).fit(x_tr, tr["label"])
        acc[hyp_only] = clf.score(x_te, te["label"])
    print(f"bag of words on the sample (en): hypothesis only {acc[True]:.3f}, premise+hypothesis {acc[False]:.3f}")
    assert acc[False] > 0.6
    assert acc[True] < 0.5 and acc[True] < acc[False] - 0.2
