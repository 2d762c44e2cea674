import pytest

from mlt_core.data.labels import canonical_label, label_order
from mlt_core.errors import MltError


def test_xnli_and_mnli_orders():
    assert label_order({0: "entailment", 1: "neutral", 2: "contradiction"}) == [0, 1, 2]
    # MNLI-style: canonical entailment lives at logit 2, contradiction at logit 0
    assert label_order({0: "CONTRADICTION", 1: "Neutral", 2: "entailment"}) == [2, 1, 0]
    assert label_order({"0": "contradictory", "1": "entailment", "2": "neutral"}) == [1, 2, 0]


def test_generic_names_refused_unless_assumed():
    with pytest.raises(MltError, match="generic"):
        label_order({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"})
    assert label_order({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}, assume_xnli_order=True) == [0, 1, 2]


@pytest.mark.parametrize("bad", [{0: "yes", 1: "no", 2: "maybe"}, {0: "entailment", 1: "neutral"},
                                 {0: "entailment", 1: "entailment", 2: "neutral"}])
def test_unmappable_labels_are_clear_errors(bad):
    with pytest.raises(MltError):
        label_order(bad)


def test_canonical_label():
    assert [canonical_label(x) for x in ("entailment", "neutral", "contradictory", 2, "1")] == [0, 1, 2, 2, 1]
    with pytest.raises(ValueError):
        canonical_label("positive")
