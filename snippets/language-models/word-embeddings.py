"""An embedding is one-hot x matrix; training makes co-occurring words close."""

import torch
import torch.nn.functional as F

from mllm_handbook.embeddings import (
    cosine_similarity_matrix,
    embedding_lookup,
    one_hot_embedding,
    skipgram_negative_sampling_loss,
)

torch.manual_seed(0)
vocab = ["cat", "dog", "pet", "fur", "car", "bus", "road", "wheel"]
V, d = len(vocab), 4
E = torch.randn(V, d)
ids = torch.tensor([[0, 1, 4]])  # "cat dog car"

# 1. Three ways to embed the same ids give the same numbers.
lookup, one_hot = embedding_lookup(ids, E), one_hot_embedding(ids, E)
assert torch.equal(lookup, F.embedding(ids, E))
assert torch.allclose(one_hot, lookup)
print(
    "embedding_lookup == one_hot_embedding == F.embedding: OK",
    tuple(lookup.shape),
)

# 2. Only the rows that were looked up receive a gradient.
W = E.clone().requires_grad_()
one_hot_embedding(ids, W).sum().backward()
print(
    "rows with non-zero gradient:",
    [vocab[i] for i in W.grad.abs().sum(1).nonzero().flatten()],
)

# 3. 100 steps of skip-gram with negative sampling on a two-topic toy corpus.
topics = [[0, 1, 2, 3], [4, 5, 6, 7]]  # words co-occur only within their topic
pairs = torch.tensor([(c, o) for t in topics for c in t for o in t if c != o])
center_vecs = torch.nn.Parameter(0.1 * torch.randn(V, d))
context_vecs = torch.nn.Parameter(0.1 * torch.randn(V, d))
opt = torch.optim.Adam([center_vecs, context_vecs], lr=0.1)
for _ in range(100):
    negatives = torch.randint(
        V, (len(pairs), 3)
    )  # uniform noise for the toy; word2vec uses unigram^0.75
    loss = skipgram_negative_sampling_loss(
        center_vecs[pairs[:, 0]],
        context_vecs[pairs[:, 1]],
        context_vecs[negatives],
    )
    opt.zero_grad()
    loss.backward()
    opt.step()

sim = cosine_similarity_matrix(center_vecs.detach(), center_vecs.detach())
print(f"final SGNS loss: {loss.item():.3f}")
for a, b in [
    ("cat", "dog"),
    ("cat", "pet"),
    ("car", "bus"),
    ("cat", "car"),
    ("dog", "road"),
]:
    print(f"cos({a:>3}, {b:<4}) = {sim[vocab.index(a), vocab.index(b)]:+.2f}")
same_topic = sim[0, 1:4].min()
other_topic = sim[0, 4:].max()
assert same_topic > other_topic, (
    "same-topic words should be closer than cross-topic words"
)
