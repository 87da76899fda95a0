"""A RAG retrieval stack on a toy manual: chunks, BM25, dense, RRF, metrics."""

import math

import torch
import torch.nn.functional as F

from mllm_handbook.losses import contrastive_logits
from mllm_handbook.metrics import (
    mean_reciprocal_rank,
    recall_at_k,
    retrieval_recall_at_k,
)
from mllm_handbook.retrieval import (
    bm25_scores,
    chunk_tokens,
    dense_scores,
    late_interaction_scores,
    reciprocal_rank_fusion,
)

torch.manual_seed(0)
passages = [
    "the model x is an electric car with a range of 500 km",
    "the model x costs 40000 dollars before tax",
    "error e42 means the charging port is blocked",
    "error e17 means the battery has a fault",
    "the warranty covers the battery for 8 years",
    "charging at home does not cost much",
    "error codes flag a fault in the battery",
]
docs = [p.split() for p in passages]

# 1. Chunking: windows of 10 words. Overlap costs extra chunks but keeps facts
#    that straddle a boundary whole: any span of <= overlap + 1 words is safe,
#    so overlap 6 guarantees it for these facts (the longest has 7 words).
manual = [w for d in docs for w in d]
facts = [
    "costs 40000 dollars",
    "e42 means the charging port is blocked",
    "warranty covers the battery for 8 years",
    "range of 500 km",
]
print("overlap | chunks | facts kept whole")
for overlap in [0, 2, 6]:
    chunks = [" ".join(c) for c in chunk_tokens(manual, 10, overlap)]
    whole = sum(any(f in c for c in chunks) for f in facts)
    print(f"{overlap:>7} | {len(chunks):>6} | {whole} of {len(facts)}")
    assert (len(chunks), whole) == {0: (6, 2), 2: (8, 2), 6: (14, 4)}[overlap]

# 2. Four questions; the gold passage of each is known.
queries = [
    "how much does the automobile cost",
    "what does error e42 mean",
    "how long is the battery guarantee",
    "how far can the car drive",
]
gold = torch.tensor([1, 2, 4, 0])
relevant = F.one_hot(gold, len(docs)).bool()

# BM25, checked by hand for passage 2 and query 2: "error" is in 3 of the 7
# passages, "e42" in 1; the passage has 8 words, the average is 53/7.
bm25 = torch.stack([bm25_scores(q.split(), docs) for q in queries])
avgdl = sum(map(len, docs)) / len(docs)
tf_part = 2.2 / (1 + 1.2 * (0.25 + 0.75 * 8 / avgdl))
idf = math.log(1 + 4.5 / 3.5) + math.log(1 + 6.5 / 1.5)
assert math.isclose(bm25[1, 2].item(), idf * tf_part, rel_tol=1e-12)

# Dense: a fixed toy embedding that maps words to concepts, so synonyms meet
# (automobile = car, cost = costs = dollars, guarantee = warranty) but rare
# codes such as e42 are unknown, as in an embedder's vocabulary of meanings.
concepts = [
    "car automobile vehicle",
    "price cost costs dollars",
    "battery charging charge",
    "range km far",
    "error fault",
    "warranty guarantee covers years",
]
vocab = {w: i for i, group in enumerate(concepts) for w in group.split()}


def embed(words: list[str]) -> torch.Tensor:
    """Bag of concepts: how often each concept's words occur."""
    vec = torch.zeros(len(concepts))
    for w in words:
        if w in vocab:
            vec[vocab[w]] += 1
    return vec


doc_vecs = torch.stack([embed(d) for d in docs])  # the offline index
dense = dense_scores(torch.stack([embed(q.split()) for q in queries]), doc_vecs)


def rrf_scores(*score_rows: torch.Tensor) -> torch.Tensor:
    """Fuse one query's rankings; [D] scores that follow the fused order."""
    rankings = [
        torch.argsort(s, descending=True, stable=True).tolist()
        for s in score_rows
    ]
    order = list(reciprocal_rank_fusion(rankings))  # ties: smaller id first
    fused = torch.zeros(len(docs))
    fused[order] = torch.arange(len(order), 0, -1.0)
    return fused


rrf = torch.stack([rrf_scores(b, d) for b, d in zip(bm25, dense, strict=True)])

print(f"\ngold passages {gold.tolist()}")
print("retriever | R@1  | R@2  | MRR   | top passage per query")
table = {}
for name, s in [("BM25", bm25), ("dense", dense), ("RRF", rrf)]:
    r1, r2 = (retrieval_recall_at_k(s, relevant, k).item() for k in (1, 2))
    mrr = mean_reciprocal_rank(s, relevant).item()
    table[name] = (r1, r2, round(mrr, 3))
    top = s.argmax(dim=1).tolist()
    print(f"{name:>9} | {r1:.2f} | {r2:.2f} | {mrr:.3f} | {top}")
assert table == {
    "BM25": (0.5, 0.75, 0.708),
    "dense": (0.75, 0.75, 0.833),
    "RRF": (0.5, 1.0, 0.75),
}  # only RRF has every gold in its top 2
assert bm25[0].argmax() == 5  # lexical match on "does", "cost", "much"
assert dense[1].argmax() != 2  # e42 is invisible to the toy embedder

# 3. Cross-modal retrieval, CLIP conventions: row i of the logits scores image
#    i against every caption; the transpose retrieves images for a text query.
images = torch.randn(8, 16)
captions = images + 2.0 * torch.randn(8, 16)  # noisy pairs: imperfect recall
logits = contrastive_logits(images, captions, logit_scale=100.0)
i2t = [recall_at_k(logits, k).item() for k in (1, 3)]
t2i = [recall_at_k(logits.T, k).item() for k in (1, 3)]
print(f"\nimage->text R@1, R@3 = {i2t}; text->image R@1, R@3 = {t2i}")
assert i2t == [1.0, 1.0] and t2i == [0.875, 1.0]  # the directions differ

# 4. Page images as patch vectors (ColPali-style). The answer page holds three
#    patches that match the three query tokens among 13 unrelated ones; the
#    distractor's 16 patches all look vaguely like the query. Mean pooling
#    prefers the distractor; MaxSim (late interaction) finds the answer page.
eye = torch.eye(16)
query = eye[:3].unsqueeze(0)  # [1 query, 3 tokens, dim 16]
answer = torch.cat([eye[:3], F.normalize(torch.rand(13, 13), dim=-1) @ eye[3:]])
vague = F.normalize(0.5 * eye[:3].sum(0) + torch.rand(16, 16) * 0.6, dim=-1)
pages = torch.stack([answer, vague])  # [2 pages, 16 patches, dim]
pooled = dense_scores(query.mean(1), pages.mean(1))[0]
maxsim = late_interaction_scores(query, pages)[0]
print(f"single vector: answer {pooled[0]:.3f} vs distractor {pooled[1]:.3f}")
print(f"MaxSim:        answer {maxsim[0]:.3f} vs distractor {maxsim[1]:.3f}")
assert pooled[0] < pooled[1] and maxsim[0] > maxsim[1]
scores = [round(v, 3) for v in pooled.tolist() + maxsim.tolist()]
assert scores == [0.148, 0.782, 3.0, 1.632]
