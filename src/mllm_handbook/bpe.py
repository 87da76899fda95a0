r"""Subword tokenizers written out: BPE training and encoding, byte-level BPE, WordPiece's pair score, and
unigram-LM segmentation.

* BPE (Sennrich et al., 2016, arXiv 1508.07909) starts from single symbols and repeatedly merges the most
  frequent adjacent pair; encoding replays the learned merges in order.
* Byte-level BPE (GPT-2, Radford et al., 2019) starts from the 256 byte values of UTF-8, so every string
  has an encoding and no unknown token is needed.
* WordPiece (Schuster & Nakajima, 2012) chooses the merge that most increases the training-data
  likelihood; secondary sources describe it with the pair score of :func:`wordpiece_scores`.
* The unigram LM (Kudo, 2018, arXiv 1804.10959) scores a segmentation by the product of its pieces'
  probabilities and encodes with the Viterbi path (:func:`unigram_segment`).

A *word* is a tuple of symbols; symbols are ``str`` (characters) or ``bytes`` (byte-level), and merging two
symbols concatenates them, so one trainer serves both.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise

import torch

from mllm_handbook._checks import check

Symbol = str | bytes
Word = tuple[Symbol, ...]
Pair = tuple[Symbol, Symbol]

END_OF_WORD = "</w>"


def char_symbols(word: str) -> Word:
    """A word as characters plus Sennrich et al.'s end-of-word marker: ``"low"`` -> ``("l", "o", "w", "</w>")``."""
    return (*word, END_OF_WORD)


def byte_symbols(text: str) -> Word:
    """A string as its UTF-8 bytes, one symbol per byte: ``"é"`` -> ``(b"\\xc3", b"\\xa9")``."""
    return tuple(bytes([b]) for b in text.encode("utf-8"))


def pretokenize(text: str) -> list[str]:
    """Split text into words that keep their leading space (a simplified GPT-2 pre-tokenizer).

    Merges never cross these boundaries, and ``"".join(pretokenize(text)) == text``.
    """
    return re.findall(r" ?\S+|\s+", text)


def pair_counts(words: Mapping[Word, int]) -> Counter[Pair]:
    r"""How often each adjacent symbol pair occurs, weighting each word by its corpus frequency.

    $$\mathrm{count}(a, b) = \sum_{w} f_w \cdot \#\{i : (w_i, w_{i+1}) = (a, b)\}$$

    Args:
        words: each word's current segmentation mapped to its frequency $f_w$.

    Returns:
        A ``Counter`` of pairs.
    """
    counts: Counter[Pair] = Counter()
    for word, freq in words.items():
        for pair in pairwise(word):
            counts[pair] += freq
    return counts


def merge_pair(word: Word, pair: Pair) -> Word:
    """Replace every non-overlapping occurrence of ``pair`` in ``word``, left to right, by its concatenation."""
    out: list[Symbol] = []
    i = 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            out.append(word[i] + word[i + 1])
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


def train_bpe(words: Mapping[Word, int], num_merges: int) -> list[Pair]:
    r"""Learn BPE merges (Sennrich et al., 2016, Algorithm 1).

    Repeat ``num_merges`` times: count adjacent pairs over the corpus, merge the most frequent one
    everywhere, and record it. Ties go to the pair counted first. Stops early when every word is a
    single symbol.

    Args:
        words: initial segmentations (e.g. :func:`char_symbols` or :func:`byte_symbols`) mapped to frequencies.
        num_merges: number of merges; the vocabulary grows by one symbol per merge.

    Returns:
        The merges in the order learned (their rank).
    """
    check(num_merges >= 0, f"num_merges must be >= 0, got {num_merges}")
    merges: list[Pair] = []
    for _ in range(num_merges):
        counts = pair_counts(words)
        if not counts:
            break
        best = max(counts, key=counts.__getitem__)
        merges.append(best)
        words = {merge_pair(word, best): freq for word, freq in words.items()}
    return merges


def apply_merges(word: Word, merges: Sequence[Pair]) -> Word:
    """Encode one word by replaying the learned merges in order (the training-time segmentation)."""
    for pair in merges:
        word = merge_pair(word, pair)
    return word


def train_byte_bpe(texts: Iterable[str], num_merges: int) -> list[Pair]:
    """Byte-level BPE (GPT-2): pre-tokenize, start every word from its UTF-8 bytes, learn merges."""
    words = Counter(byte_symbols(word) for text in texts for word in pretokenize(text))
    return train_bpe(words, num_merges)


def byte_vocab(merges: Sequence[Pair], special_tokens: Sequence[str] = ()) -> list[bytes | str]:
    """Id -> token: the 256 single bytes, then one token per merge, then the special tokens (as ``str``)."""
    return [bytes([b]) for b in range(256)] + [a + b for a, b in merges] + list(special_tokens)


def encode(text: str, merges: Sequence[Pair], special_tokens: Sequence[str] = ()) -> list[int]:
    """Byte-level BPE ids of ``text``; each special token (e.g. ``"<image>"``) becomes its single id.

    Every byte has an id, so any string (Chinese, emoji, ...) is encoded without an unknown token.
    """
    vocab = byte_vocab(merges, special_tokens)
    token_id = {token: i for i, token in enumerate(vocab)}
    pattern = "(" + "|".join(map(re.escape, special_tokens)) + ")"
    pieces = re.split(pattern, text) if special_tokens else [text]
    ids: list[int] = []
    for piece in pieces:
        if piece in special_tokens:
            ids.append(token_id[piece])
            continue
        for word in pretokenize(piece):
            ids += [token_id[symbol] for symbol in apply_merges(byte_symbols(word), merges)]
    return ids


def decode(ids: Sequence[int], merges: Sequence[Pair], special_tokens: Sequence[str] = ()) -> str:
    """Concatenate the tokens' bytes and decode UTF-8 (invalid byte runs become U+FFFD, as in GPT-2)."""
    vocab = byte_vocab(merges, special_tokens)
    pieces = [vocab[i] if isinstance(vocab[i], bytes) else vocab[i].encode("utf-8") for i in ids]
    return b"".join(pieces).decode("utf-8", errors="replace")


def wordpiece_scores(words: Mapping[Word, int]) -> dict[Pair, float]:
    r"""The WordPiece merge score as secondary sources (e.g. the Hugging Face course) describe it.

    $$\mathrm{score}(a, b) = \frac{\mathrm{count}(a, b)}{\mathrm{count}(a)\,\mathrm{count}(b)}$$

    BPE merges the pair with the largest numerator; this score prefers pairs whose parts rarely occur
    apart. Schuster & Nakajima (2012) only state the criterion (the merge that most increases the
    training-data likelihood); the Hugging Face course notes that Google never open-sourced its WordPiece
    trainer and calls this score its best guess. The course also marks word-internal pieces with ``##``,
    which this sketch leaves out.

    Args:
        words: current segmentations mapped to frequencies.

    Returns:
        Pair -> score.
    """
    units: Counter[Symbol] = Counter()
    for word, freq in words.items():
        for symbol in word:
            units[symbol] += freq
    return {(a, b): n / (units[a] * units[b]) for (a, b), n in pair_counts(words).items()}


def unigram_segment(word: str, log_probs: Mapping[str, float]) -> tuple[list[str], float]:
    r"""Most likely segmentation under a unigram LM, by Viterbi (Kudo, 2018, §3.1).

    $$\mathbf{x}^* = \arg\max_{\mathbf{x} \in S(w)} \sum_{i} \log p(x_i)$$

    where $S(w)$ is every way to write $w$ as a sequence of vocabulary pieces.

    Args:
        word: the text to segment.
        log_probs: piece -> $\log p(\text{piece})$.

    Returns:
        ``(pieces, log_prob)``; ``([], -inf)`` if ``word`` cannot be written with the vocabulary.
    """
    n = len(word)
    best = [0.0] + [-math.inf] * n  # best[j]: log-prob of the best segmentation of word[:j]
    start_of = [0] * (n + 1)
    for end in range(1, n + 1):
        for start in range(end):
            piece = word[start:end]
            if piece in log_probs and best[start] + log_probs[piece] > best[end]:
                best[end], start_of[end] = best[start] + log_probs[piece], start
    if best[n] == -math.inf:
        return [], -math.inf
    pieces, end = [], n
    while end > 0:
        pieces.append(word[start_of[end] : end])
        end = start_of[end]
    return pieces[::-1], best[n]


def resize_embedding(weight: torch.Tensor, num_new: int) -> torch.Tensor:
    r"""Append rows for new tokens (e.g. ``<image>``) to a ``[V, d]`` embedding matrix.

    Old rows are copied unchanged, so every existing token keeps its vector; each new row starts at the
    mean of the old rows, as LLaVA's and Stanford Alpaca's training code initialise added tokens:

    $$E' = \begin{bmatrix} E \\ \mathbf{1}_n \bar e^\top \end{bmatrix},\qquad \bar e = \frac{1}{V}\sum_{i} E_i$$

    Args:
        weight: ``[V, d]`` embedding (or untied output) matrix.
        num_new: number of tokens added, $n \ge 0$.

    Returns:
        ``[V + n, d]`` new matrix.
    """
    check(num_new >= 0, f"num_new must be >= 0, got {num_new}")
    mean = weight.mean(dim=0, keepdim=True)
    return torch.cat([weight, mean.expand(num_new, -1)], dim=0)
