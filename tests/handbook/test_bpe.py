"""bpe: merges by hand, round trips on any Unicode, WordPiece's score, Viterbi against brute force, resize."""

import math
from collections import Counter
from itertools import combinations, pairwise

import pytest
import torch

from mllm_handbook.bpe import (
    END_OF_WORD,
    apply_merges,
    byte_symbols,
    byte_vocab,
    char_symbols,
    decode,
    encode,
    merge_pair,
    pair_counts,
    pretokenize,
    resize_embedding,
    train_bpe,
    train_byte_bpe,
    unigram_segment,
    wordpiece_scores,
)

WORDS = Counter(
    {char_symbols("hug"): 10, char_symbols("pug"): 5, char_symbols("pun"): 12, char_symbols("bun"): 4}
)


def test_pair_counts_weight_by_frequency():
    counts = pair_counts(WORDS)
    assert counts[("u", "g")] == 15 and counts[("u", "n")] == 16 and counts[("p", "u")] == 17
    assert counts[("n", END_OF_WORD)] == 16


def test_merge_pair_non_overlapping_left_to_right():
    assert merge_pair(("a", "a", "a"), ("a", "a")) == ("aa", "a")
    assert merge_pair(("a", "b", "a", "b"), ("a", "b")) == ("ab", "ab")
    assert merge_pair((b"\xe4", b"\xbd"), (b"\xe4", b"\xbd")) == (b"\xe4\xbd",)


def test_train_bpe_by_hand():
    # Step 1: (p, u) = 5 + 12 = 17 is the most frequent pair. On the merged corpus (u, n) drops to 4 (only
    # "bun"), so step 2 takes (n, </w>) = 16 and step 3 (g, </w>) = 15 (ahead of (h, u) and (u, g), 10 each).
    merges = train_bpe(WORDS, 3)
    assert merges == [("p", "u"), ("n", END_OF_WORD), ("g", END_OF_WORD)]
    assert apply_merges(char_symbols("bun"), merges) == ("b", "u", "n</w>")
    assert apply_merges(char_symbols("pug"), merges) == ("pu", "g</w>")
    assert train_bpe(WORDS, 0) == []
    assert len(train_bpe(Counter({("a", "b"): 1}), 5)) == 1  # stops when every word is one symbol


def test_pretokenize_is_lossless():
    text = "  Hello,  world!\n你好 🙂 "
    assert "".join(pretokenize(text)) == text
    assert pretokenize("a b") == ["a", " b"]


@pytest.mark.parametrize("text", ["lower newer", "你好，世界", "emoji 🙂🚀 mixed 中文 text", "é\u0301", ""])
def test_byte_bpe_round_trip_any_unicode(text):
    merges = train_byte_bpe(["lower newer widest", "你好 你好 世界"], 30)
    ids = encode(text, merges)
    assert decode(ids, merges) == text
    assert all(0 <= i < 256 + len(merges) for i in ids)  # no unknown id exists


def test_byte_fallback_without_merges_is_utf8():
    assert encode("你🙂", []) == list("你🙂".encode())
    assert len(encode("🙂", [])) == 4 and len(byte_vocab([])) == 256


def test_merges_shorten_and_specials_are_atomic():
    merges = train_byte_bpe(["the cat sat on the mat"] * 3, 20)
    assert len(encode("the mat", merges)) < len(b"the mat")
    ids = encode("a<image>b", merges, special_tokens=["<image>"])
    image_id = 256 + len(merges)
    assert ids.count(image_id) == 1 and len(ids) == 3
    assert decode(ids, merges, special_tokens=["<image>"]) == "a<image>b"
    assert encode("a<image>b", merges) != ids  # without the special token it is plain bytes
    assert byte_vocab(merges, ["<image>"])[image_id] == "<image>"


def test_decode_replaces_invalid_utf8():
    assert decode([0xE4], []) == "\ufffd"


def test_byte_symbols_and_char_symbols():
    assert byte_symbols("é") == (b"\xc3", b"\xa9")
    assert char_symbols("ab") == ("a", "b", END_OF_WORD)


def test_wordpiece_score_prefers_pairs_whose_parts_rarely_occur_apart():
    words = Counter(
        {tuple(w): f for w, f in {"lower": 6, "newer": 5, "wider": 3, "quiz": 2, "quip": 1}.items()}
    )
    scores = wordpiece_scores(words)
    assert scores[("q", "u")] == pytest.approx(3 / (3 * 3))
    assert scores[("e", "r")] == pytest.approx(14 / (5 + 6 + 5 + 3) / 14)  # count(e) = 19, count(r) = 14
    assert max(pair_counts(words).items(), key=lambda kv: kv[1])[0] == ("e", "r")  # BPE's choice
    assert max(scores, key=scores.__getitem__) == ("q", "u")  # WordPiece's choice


def _all_segmentations(word: str):
    for k in range(len(word)):
        for cuts in combinations(range(1, len(word)), k):
            bounds = (0, *cuts, len(word))
            yield [word[a:b] for a, b in pairwise(bounds)]


def test_unigram_viterbi_equals_brute_force():
    probs = {
        "h": 0.1,
        "u": 0.1,
        "g": 0.1,
        "s": 0.1,
        "hu": 0.05,
        "ug": 0.2,
        "gs": 0.02,
        "hug": 0.15,
        "ugs": 0.01,
    }
    log_probs = {piece: math.log(q) for piece, q in probs.items()}
    for word in ["hugs", "ugh", "shug", "gush"]:
        candidates = [s for s in _all_segmentations(word) if all(p in log_probs for p in s)]
        best = max(candidates, key=lambda s: sum(log_probs[p] for p in s))
        pieces, score = unigram_segment(word, log_probs)
        assert pieces == best and score == pytest.approx(sum(log_probs[p] for p in best))
    assert unigram_segment("hux", log_probs) == ([], -math.inf)
    assert unigram_segment("", log_probs) == ([], 0.0)


def test_resize_embedding_keeps_old_rows():
    w = torch.randn(7, 5, generator=torch.Generator().manual_seed(0))
    new = resize_embedding(w, 2)
    assert new.shape == (9, 5) and torch.equal(new[:7], w)
    torch.testing.assert_close(new[7:], w.mean(0).expand(2, 5))
    assert torch.equal(resize_embedding(w, 0), w)


def test_bad_inputs():
    with pytest.raises(ValueError, match="num_merges must be >= 0"):
        train_bpe(WORDS, -1)
    with pytest.raises(ValueError, match="num_new must be >= 0"):
        resize_embedding(torch.zeros(2, 2), -1)
