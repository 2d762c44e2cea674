"""Probe arithmetic checked against numbers worked out by hand or computed independently."""
import math

import numpy as np
import pytest
import torch

from mlt_core.forward import ForwardCache
from mlt_core.probes.entropy import entropy_per_example, row_entropy
from mlt_core.probes.similarity import cosine, linear_cka


def test_entropy_of_hand_made_three_token_row():
    # one query attending over 3 real keys with p = (0.5, 0.25, 0.25) and a 4th padding key
    pattern = torch.tensor([0.5, 0.25, 0.25, 0.0]).reshape(1, 1, 1, 4)  # [batch, head, q, k]
    key_mask = torch.tensor([True, True, True, False]).reshape(1, 1, 4)  # [batch, q, k]
    h, hn = row_entropy(pattern, key_mask)
    expected = -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25))  # = 1.5 ln 2 = 1.0397 nats
    assert h.item() == pytest.approx(expected, abs=1e-9)
    assert h.item() == pytest.approx(1.0397207708, abs=1e-9)
    assert hn.item() == pytest.approx(expected / math.log(3), abs=1e-9)  # 0.9464


def test_uniform_rows_normalise_to_one_whatever_the_length():
    for n in (2, 7, 50):
        pattern = torch.full((1, 1, 1, n), 1.0 / n)
        h, hn = row_entropy(pattern, torch.ones(1, 1, n, dtype=torch.bool))
        assert h.item() == pytest.approx(math.log(n))
        assert hn.item() == pytest.approx(1.0)


def _cache(pattern, mask, causal):
    b, hds, s, _ = pattern.shape
    return ForwardCache(model_name="m", pairs=[], input_ids=torch.zeros(b, s, dtype=torch.long),
                        attention_mask=mask, seq_ids=[], tokens=[], logits=torch.zeros(b, 3),
                        probs=torch.zeros(b, 3), truncated=[False] * b, causal=causal, n_layers=1,
                        n_heads=hds, acts={"blocks.0.attn.pattern": pattern})


def test_mean_over_non_padding_queries_encoder():
    # 3 real tokens + 1 padding. Rows: one-hot (H=0), uniform over 3 (ln 3), (.5,.25,.25); pad row is garbage
    rows = [[1, 0, 0, 0], [1 / 3, 1 / 3, 1 / 3, 0], [0.5, 0.25, 0.25, 0], [0.1, 0.2, 0.3, 0.4]]
    pattern = torch.tensor(rows, dtype=torch.float32).reshape(1, 1, 4, 4)
    raw, norm = entropy_per_example(_cache(pattern, torch.tensor([[1, 1, 1, 0]]), causal=False))
    hs = [0.0, math.log(3), 1.5 * math.log(2)]
    assert raw[0, 0, 0].item() == pytest.approx(sum(hs) / 3, abs=1e-6)
    assert norm[0, 0, 0].item() == pytest.approx(sum(h / math.log(3) for h in hs) / 3, abs=1e-6)


def test_causal_rows_normalise_by_their_own_key_count():
    # decoder: query q sees q+1 keys; query 0 has one key -> entropy 0, normalised 0 by convention
    pattern = torch.tensor([[1, 0, 0], [0.5, 0.5, 0], [0.5, 0.25, 0.25]], dtype=torch.float32).reshape(1, 1, 3, 3)
    raw, norm = entropy_per_example(_cache(pattern, torch.ones(1, 3, dtype=torch.long), causal=True))
    hs = [0.0, math.log(2), 1.5 * math.log(2)]
    assert raw[0, 0, 0].item() == pytest.approx(sum(hs) / 3, abs=1e-6)
    assert norm[0, 0, 0].item() == pytest.approx((0 + 1.0 + 1.5 * math.log(2) / math.log(3)) / 3, abs=1e-6)


def _cka_hsic(x, y):
    """Independent CKA: HSIC with the centring matrix H = I - 11^T/n and linear kernels."""
    n = x.shape[0]
    H = np.eye(n) - np.ones((n, n)) / n
    K, L = x @ x.T, y @ y.T
    hsic = lambda A, B: np.trace(A @ H @ B @ H)
    return hsic(K, L) / math.sqrt(hsic(K, K) * hsic(L, L))


@pytest.mark.parametrize("n,d", [(10, 4), (6, 32)])  # both the feature and the Gram code paths
def test_linear_cka_invariances(n, d):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, d))
    y = x @ rng.normal(size=(d, d)) + 0.5 * rng.normal(size=(n, d))
    assert linear_cka(x, x) == pytest.approx(1.0)
    assert linear_cka(x, y) == pytest.approx(_cka_hsic(x, y), rel=1e-9)
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))  # orthogonal
    assert linear_cka(x @ q, y) == pytest.approx(linear_cka(x, y), rel=1e-9)
    assert linear_cka(3.7 * x, 0.01 * y) == pytest.approx(linear_cka(x, y), rel=1e-9)
    # ...but NOT invariant to anisotropic scaling: the test can fail
    s = np.diag(np.linspace(0.1, 10, d))
    assert abs(linear_cka(x @ s, y) - linear_cka(x, y)) > 1e-3


def test_cosine():
    assert cosine([1, 0], [0, 1]) == pytest.approx(0.0)
    assert cosine([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert cosine([1, 1], [1, 0]) == pytest.approx(1 / math.sqrt(2))
