"""BPE training, byte fallback, WordPiece scores, vocabulary size trade-offs."""

from collections import Counter
from itertools import pairwise

import torch

from mllm_handbook.bpe import (
    END_OF_WORD,
    apply_merges,
    char_symbols,
    decode,
    encode,
    pair_counts,
    resize_embedding,
    train_bpe,
    train_byte_bpe,
    unigram_segment,
    wordpiece_scores,
)
from mllm_handbook.llm_configs import CONFIGS, parameter_breakdown

torch.manual_seed(0)

# 1. Character-level BPE (Sennrich et al.): merge the most frequent pair.
counts = {"low": 5, "lower": 2, "newest": 6, "widest": 3, "new": 4}
words = Counter({char_symbols(w): f for w, f in counts.items()})
merges = train_bpe(words, 6)
print("first merges:", [a + b for a, b in merges])
first = pair_counts(words)
print(f"first merge {merges[0]} occurs {first[merges[0]]} times")
assert first[merges[0]] == max(first.values())  # ties: first pair counted
pieces = apply_merges(char_symbols("lowest"), merges)  # unseen word
print("'lowest' ->", pieces)
assert pieces == ("lo", "w", "est</w>")
alphabet = {s for w in words for s in w}
vocab = alphabet | {a + b for a, b in merges}
unk = [
    p if p in vocab else "<unk>"
    for p in apply_merges(char_symbols("你"), merges)
]
print("'你' with a character vocabulary ->", unk)
assert unk == ["<unk>", END_OF_WORD]

# 2. Byte-level BPE (GPT-2): 256 byte symbols, so nothing is unknown.
corpus = [
    "the cat sat on the mat and the dog sat on the log",
    "a tokenizer turns text into tokens and tokens into ids",
    "the model reads the tokens one at a time",
    "subword units split rare words into common pieces",
    "我们 喜欢 猫 也 喜欢 狗",
    "模型 一次 读 一个 词元",
]
merges = train_byte_bpe(corpus, 40)
vocab_size = 256 + len(merges)
for text in ["the cat sat", "我们 喜欢 狗", "unseen 😺 ok"]:
    ids = encode(text, merges)
    assert decode(ids, merges) == text and max(ids) < vocab_size
    n_bytes = len(text.encode())
    print(f"{text!r:>18}: {n_bytes:2d} bytes -> {len(ids):2d} tokens")
emoji = encode("😺", merges)
assert emoji == list("😺".encode())  # never seen: falls back to its 4 bytes

# 3. WordPiece's score count(ab) / (count(a) count(b)) vs BPE's count(ab).
counts = {"lower": 6, "newer": 5, "wider": 3, "quiz": 2, "quip": 1}
words = Counter({tuple(w): f for w, f in counts.items()})
pairs, scores = pair_counts(words), wordpiece_scores(words)
bpe_pick = max(pairs, key=pairs.__getitem__)
wp_pick = max(scores, key=scores.__getitem__)
print(
    f"BPE merges {bpe_pick}: count {pairs[bpe_pick]}, "
    f"score {scores[bpe_pick]:.3f}"
)
print(
    f"WordPiece merges {wp_pick}: count {pairs[wp_pick]}, "
    f"score {scores[wp_pick]:.3f}"
)
assert bpe_pick == ("e", "r") and wp_pick == ("q", "u")
assert pairs[bpe_pick] == 14 and pairs[wp_pick] == 3

# 4. Unigram LM (Kudo): the most likely segmentation, by Viterbi.
log_p = {"un": -3.0, "related": -6.0, "unrelated": -10.0, "rel": -5.0}
log_p |= {"u": -6.0, "n": -6.0, "ated": -5.0}
best, score = unigram_segment("unrelated", log_p)
print("unigram:", best, score)
assert best == ["un", "related"] and score == -9.0

# 5. Vocabulary size: more merges -> fewer tokens per sentence, larger V·d.
print(" merges | vocab | tokens/sentence | V*d at d=4096")
lengths = []
for n in (0, 25, 50, 100):
    m = train_byte_bpe(corpus, n)
    lengths.append(sum(len(encode(s, m)) for s in corpus) / len(corpus))
    v = 256 + len(m)
    print(f"{n:7d} | {v:5d} | {lengths[-1]:15.1f} | {v * 4096:13,d}")
assert all(a > b for a, b in pairwise(lengths))
assert lengths[0] == 42.5 and round(lengths[-1], 1) == 12.3

print(" model      | vocab_size | d    | embedding params | share")
shares = {}
for name in ["LLaMA-2-7B", "Llama-3-8B", "Qwen2-7B", "Qwen2-0.5B"]:
    cfg, parts = CONFIGS[name], parameter_breakdown(CONFIGS[name])
    emb = parts["input_embedding"] + parts["output_head"]
    shares[name] = round(100 * emb / parts["total"], 1)
    print(
        f" {name:10} | {cfg.vocab_size:10,d} | {cfg.hidden_size:4d} | "
        f"{emb / 1e9:13.2f}B | {shares[name]:4.1f}%"
    )
assert list(shares.values()) == [3.9, 13.1, 14.3, 27.6]

# 6. Add <image>: one new id; the embedding grows and old rows stay put.
special = ["<image>"]
ids = encode("look: <image> ok", merges, special)
image_id = 256 + len(merges)
assert ids.count(image_id) == 1
emb = torch.nn.Embedding(image_id, 8)
bigger = torch.nn.Embedding.from_pretrained(resize_embedding(emb.weight, 1))
assert bigger.weight.shape == (image_id + 1, 8)
assert torch.equal(bigger.weight[:image_id], emb.weight)
print(
    f"'<image>' -> id {image_id}; embedding {tuple(emb.weight.shape)} -> "
    f"{tuple(bigger.weight.shape)}, old rows unchanged"
)
