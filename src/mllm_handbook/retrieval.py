r"""The retrieval half of retrieval-augmented generation (RAG), written out.

* :func:`chunk_tokens` splits a document into overlapping windows.
* :func:`bm25_scores` is the lexical retriever BM25 (Robertson & Zaragoza, 2009).
* :func:`dense_scores` is a dense (embedding) retriever's cosine similarity, as in DPR-style dual encoders
  (Karpukhin et al., 2020); :func:`late_interaction_scores` is ColBERT's MaxSim, which ColPali applies to
  the patch embeddings of page images (Faysse et al., 2025).
* :func:`reciprocal_rank_fusion` merges ranked lists from several retrievers (Cormack et al., 2009).

Scoring a retriever (Recall@K, MRR) is in :mod:`mllm_handbook.metrics`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from mllm_handbook._checks import check


def chunk_tokens(tokens: Sequence[str], size: int, overlap: int) -> list[list[str]]:
    r"""Split a token sequence into windows of ``size`` tokens, consecutive windows sharing ``overlap``.

    Windows start every $s = \mathrm{size} - \mathrm{overlap}$ tokens; the last one ends at the end of the
    text. Any span of at most $\mathrm{overlap} + 1$ tokens lies whole inside some window, so a fact that
    straddles a boundary is not cut in two.

    Args:
        tokens: the document, already tokenised (words here; real systems use the embedder's tokens).
        size: tokens per chunk, ``>= 1``.
        overlap: tokens shared by consecutive chunks, ``0 <= overlap < size``.

    Returns:
        The chunks, in order.
    """
    check(size >= 1, f"size must be >= 1, got {size}")
    check(0 <= overlap < size, f"overlap must be in [0, size), got {overlap} with size {size}")
    stride = size - overlap
    chunks = []
    for start in range(0, max(len(tokens) - overlap, 1), stride):
        chunks.append(list(tokens[start : start + size]))
    return chunks


def bm25_scores(
    query: Sequence[str], documents: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75
) -> torch.Tensor:
    r"""Okapi BM25 score of every document for a bag-of-words query (Robertson & Zaragoza, 2009).

    $$\mathrm{BM25}(q, d) = \sum_{t \in q} \mathrm{IDF}(t)\,
    \frac{f_{t,d}\,(k_1 + 1)}{f_{t,d} + k_1\left(1 - b + b\,\frac{|d|}{\mathrm{avgdl}}\right)},\qquad
    \mathrm{IDF}(t) = \ln\left(1 + \frac{N - n_t + 0.5}{n_t + 0.5}\right)$$

    $f_{t,d}$ is the count of term $t$ in $d$, $n_t$ the number of documents containing $t$, $N$ the number
    of documents. The term-frequency part saturates at $k_1 + 1$; $b$ sets how much long documents are
    penalised. The ``1 +`` inside the IDF (as in Lucene) keeps it positive for terms in most documents.
    Each distinct query term counts once.

    Args:
        query: query terms.
        documents: tokenised documents (or chunks).
        k1: term-frequency saturation, ``> 0``; the smaller, the closer to counting each term once.
        b: length normalisation in ``[0, 1]``; 0 turns it off.

    Returns:
        ``[num_documents]`` float64 scores (0 for a document sharing no term with the query).
    """
    check(k1 > 0 and 0 <= b <= 1, f"need k1 > 0 and 0 <= b <= 1, got k1={k1}, b={b}")
    terms = list(dict.fromkeys(query))
    tf = torch.tensor([[doc.count(t) for t in terms] for doc in documents], dtype=torch.float64)
    n_docs = len(documents)
    doc_freq = (tf > 0).sum(dim=0, dtype=tf.dtype)
    idf = torch.log(1 + (n_docs - doc_freq + 0.5) / (doc_freq + 0.5))
    lengths = torch.tensor([len(doc) for doc in documents], dtype=torch.float64)
    norm = k1 * (1 - b + b * lengths / lengths.mean())
    return (idf * tf * (k1 + 1) / (tf + norm[:, None])).sum(dim=1)


def dense_scores(query_embeddings: torch.Tensor, doc_embeddings: torch.Tensor) -> torch.Tensor:
    r"""Cosine similarity of every query embedding with every document embedding.

    $$s(q, d) = \frac{E_Q(q)^\top E_D(d)}{\lVert E_Q(q)\rVert\,\lVert E_D(d)\rVert}$$

    DPR scores with the raw inner product $E_Q(q)^\top E_P(p)$ (Karpukhin et al., 2020); most
    sentence-embedding retrievers normalise first, which this does. Either way the document embeddings
    are computed once, offline, and search is a (approximate) maximum-inner-product search.

    Args:
        query_embeddings: ``[Q, dim]``.
        doc_embeddings: ``[D, dim]``.

    Returns:
        ``[Q, D]`` scores in ``[-1, 1]``.
    """
    return F.normalize(query_embeddings, dim=-1) @ F.normalize(doc_embeddings, dim=-1).T


def late_interaction_scores(query_tokens: torch.Tensor, doc_tokens: torch.Tensor) -> torch.Tensor:
    r"""ColBERT's late-interaction (MaxSim) score: each query token picks its best-matching document token.

    $$s(q, d) = \sum_{i=1}^{L_q} \max_{j \le L_d} \mathbf{q}_i^\top \mathbf{d}_j$$

    (Khattab & Zaharia, 2020). ColPali embeds each page *image* as one vector per patch and scores text
    queries against them this way, with no OCR (Faysse et al., 2025, arXiv 2407.01449).

    Args:
        query_tokens: ``[Q, L_q, dim]`` one vector per query token.
        doc_tokens: ``[D, L_d, dim]`` one vector per document token or image patch.

    Returns:
        ``[Q, D]`` scores.
    """
    check(query_tokens.dim() == 3 and doc_tokens.dim() == 3, "need query [Q, Lq, dim] and docs [D, Ld, dim]")
    token_sims = torch.einsum("qid,njd->qnij", query_tokens, doc_tokens)  # [Q, D, Lq, Ld]
    return token_sims.amax(dim=-1).sum(dim=-1)


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int = 60) -> dict[int, float]:
    r"""Reciprocal-rank fusion (RRF) of several ranked lists (Cormack, Clarke & Büttcher, 2009).

    $$\mathrm{RRF}(d) = \sum_{r} \frac{1}{k + \mathrm{rank}_r(d)}$$

    with 1-based ranks; a document missing from a list gets nothing from it. Only ranks are used, so
    retrievers whose scores live on different scales (BM25, cosine) need no normalisation. The paper fixes
    $k = 60$, which damps the weight of the very top ranks.

    Args:
        rankings: one list of document ids per retriever, best first.
        k: the damping constant, ``>= 0``.

    Returns:
        ``{doc_id: score}`` in fused order (highest score first; ties by smaller id).
    """
    check(k >= 0, f"k must be >= 0, got {k}")
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, doc in enumerate(ranking, start=1):
            scores[doc] = scores.get(doc, 0.0) + 1.0 / (k + rank)
    return dict(sorted(scores.items(), key=lambda item: (-item[1], item[0])))
