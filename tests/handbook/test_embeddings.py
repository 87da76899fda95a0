"""embeddings: lookup = one-hot x matrix = nn.Embedding; cosine similarity; word2vec SGNS loss."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mllm_handbook.embeddings import (
    cosine_similarity_matrix,
    embedding_lookup,
    one_hot_embedding,
    skipgram_negative_sampling_loss,
)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), shape=st.lists(st.integers(1, 4), min_size=1, max_size=3))
def test_lookup_equals_one_hot_product_and_nn_embedding(seed, shape):
    g = torch.Generator().manual_seed(seed)
    emb = torch.nn.Embedding(11, 5)
    with torch.no_grad():
        emb.weight.copy_(torch.randn(11, 5, generator=g))
    ids = torch.randint(11, shape, generator=g)
    ref = emb(ids).detach()
    torch.testing.assert_close(embedding_lookup(ids, emb.weight.detach()), ref)
    torch.testing.assert_close(one_hot_embedding(ids, emb.weight.detach()), ref)


def test_one_hot_gradient_touches_only_used_rows():
    w = torch.randn(6, 3, requires_grad=True)
    one_hot_embedding(torch.tensor([1, 4, 1]), w).sum().backward()
    assert torch.equal(w.grad.abs().sum(1) > 0, torch.tensor([False, True, False, False, True, False]))
    assert torch.allclose(w.grad[1], torch.full((3,), 2.0))


def test_cosine_matches_torch_and_known_values():
    a, b = torch.randn(4, 6), torch.randn(3, 6)
    torch.testing.assert_close(
        cosine_similarity_matrix(a, b), F.cosine_similarity(a[:, None], b[None], dim=-1)
    )
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0]])
    torch.testing.assert_close(
        cosine_similarity_matrix(x, x), torch.tensor([[1.0, 0, -1], [0, 1, 0], [-1, 0, 1]])
    )


def test_sgns_loss_hand_computed():
    c = torch.tensor([[1.0, 0.0]])
    o = torch.tensor([[2.0, 0.0]])
    n = torch.tensor([[[0.0, 1.0], [-1.0, 0.0]]])
    expected = -(math.log(1 / (1 + math.exp(-2))) + math.log(0.5) + math.log(1 / (1 + math.exp(-1))))
    torch.testing.assert_close(skipgram_negative_sampling_loss(c, o, n), torch.tensor(expected))


def test_sgns_loss_drops_when_context_aligns():
    c, n = torch.randn(8, 4), torch.randn(8, 3, 4)
    assert skipgram_negative_sampling_loss(c, 3 * c, n) < skipgram_negative_sampling_loss(c, -3 * c, n)


def test_bad_inputs_raise():
    w = torch.randn(5, 2)
    with pytest.raises(ValueError, match="integer"):
        embedding_lookup(torch.tensor([1.0]), w)
    with pytest.raises(ValueError, match="lie in"):
        embedding_lookup(torch.tensor([5]), w)
    with pytest.raises(ValueError, match="lie in"):
        one_hot_embedding(torch.tensor([-1]), w)
    with pytest.raises(ValueError, match=r"\[vocab, dim\]"):
        embedding_lookup(torch.tensor([0]), torch.randn(5))
    with pytest.raises(ValueError, match="floating-point"):
        one_hot_embedding(torch.tensor([0]), torch.ones(5, 2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[n, d\]"):
        cosine_similarity_matrix(torch.randn(2, 3), torch.randn(2, 4))
    with pytest.raises(ValueError, match="center and context"):
        skipgram_negative_sampling_loss(torch.randn(2, 3), torch.randn(2, 4), torch.randn(2, 1, 3))
    with pytest.raises(ValueError, match="negatives"):
        skipgram_negative_sampling_loss(torch.randn(2, 3), torch.randn(2, 3), torch.randn(2, 3))
