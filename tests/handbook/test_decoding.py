"""decoding: warpers against their definitions, search against brute force, VCD against a hand example."""

import math
from itertools import combinations, product

import pytest
import torch

from mllm_handbook.decoding import (
    beam_search,
    contrastive_decoding_logits,
    greedy_decode,
    repetition_penalty,
    sample_next_token,
    temperature_softmax,
    top_k_filter,
    top_p_filter,
)


def test_hand_computed_example():
    # p = softmax(logits) has max log-prob at token 0; beta = 0.1 keeps tokens with p >= 0.1 * p_max.
    logits = torch.tensor([2.0, 1.5, -1.0, 0.0])
    distorted = torch.tensor([2.5, 0.5, -3.0, 0.0])
    out = contrastive_decoding_logits(logits, distorted, alpha=1.0, beta=0.1)
    # Cut-off in logit space: logit >= log(0.1) + 2.0 = -0.3026 -> tokens 0, 1, 3 survive, token 2 does not.
    expected = torch.tensor([2 * 2.0 - 2.5, 2 * 1.5 - 0.5, float("-inf"), 0.0])
    torch.testing.assert_close(out, expected)
    # Token 2 (-1 vs -3) would otherwise get 2*(-1) + 3 = 1.0, more than token 3: the cut-off matters.
    assert 2 * -1.0 + 3.0 > 0.0


def test_alpha_zero_returns_original_with_cutoff():
    g = torch.Generator().manual_seed(0)
    logits, distorted = torch.randn(3, 10, generator=g), torch.randn(3, 10, generator=g)
    out = contrastive_decoding_logits(logits, distorted, alpha=0.0, beta=0.2)
    keep = torch.isfinite(out)
    torch.testing.assert_close(out[keep], logits[keep])
    log_p = torch.log_softmax(logits, dim=-1)
    torch.testing.assert_close(keep, log_p >= math.log(0.2) + log_p.max(dim=-1, keepdim=True).values)


def test_cutoff_uses_original_distribution_and_keeps_argmax():
    g = torch.Generator().manual_seed(1)
    logits, distorted = torch.randn(4, 16, generator=g), 5 * torch.randn(4, 16, generator=g)
    out = contrastive_decoding_logits(logits, distorted, alpha=2.0, beta=0.5)
    # Changing the distorted logits never changes which tokens are kept.
    out2 = contrastive_decoding_logits(logits, -distorted, alpha=2.0, beta=0.5)
    torch.testing.assert_close(torch.isfinite(out), torch.isfinite(out2))
    assert torch.isfinite(out.gather(-1, logits.argmax(-1, keepdim=True))).all()
    # beta = 1 keeps only the argmax.
    assert (torch.isfinite(contrastive_decoding_logits(logits, distorted, beta=1.0)).sum(-1) == 1).all()


def test_bad_inputs():
    x = torch.zeros(5)
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        contrastive_decoding_logits(x, x, alpha=-0.1)
    with pytest.raises(ValueError, match=r"beta must be in \(0, 1\]"):
        contrastive_decoding_logits(x, x, beta=0.0)
    with pytest.raises(ValueError, match=r"beta must be in \(0, 1\]"):
        contrastive_decoding_logits(x, x, beta=1.5)


INF = float("-inf")


def test_temperature_matches_softmax_and_sharpens():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(3, 7, generator=g)
    torch.testing.assert_close(temperature_softmax(z, 2.0), torch.softmax(z / 2.0, dim=-1))
    torch.testing.assert_close(temperature_softmax(z, 1.0), torch.softmax(z, dim=-1))
    cold = temperature_softmax(z, 0.01)
    assert torch.equal(cold.argmax(-1), z.argmax(-1)) and (cold.max(-1).values > 0.999).all()
    hot = temperature_softmax(z, 1000.0)
    torch.testing.assert_close(hot, torch.full_like(hot, 1 / 7), atol=1e-3, rtol=0)


def test_top_k_matches_torch_topk_per_row():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(4, 11, generator=g)  # no ties, rows differ
    for k in (1, 3, 10):
        out = top_k_filter(z, k)
        kept = torch.isfinite(out)
        ref = torch.zeros_like(kept).scatter(-1, z.topk(k).indices, True)
        assert torch.equal(kept, ref)
        torch.testing.assert_close(out[kept], z[kept])
    assert torch.equal(top_k_filter(z, 1).argmax(-1), z.argmax(-1))


def test_top_k_ties_vocab_size_and_beyond():
    z = torch.tensor([[1.0, 3.0, 3.0, 2.0], [0.0, 0.0, 0.0, 0.0]])
    expected_k1 = torch.tensor([[INF, 3.0, INF, INF], [0.0, INF, INF, INF]])
    torch.testing.assert_close(top_k_filter(z, 1), expected_k1)  # ties -> lower token id, exactly k kept
    expected_k2 = torch.tensor([[INF, 3.0, 3.0, INF], [0.0, 0.0, INF, INF]])
    torch.testing.assert_close(top_k_filter(z, 2), expected_k2)
    assert torch.equal(top_k_filter(z, 4), z) and torch.equal(top_k_filter(z, 9), z)


def _smallest_nucleus(probs: list[float], p: float) -> set[int]:
    """Reference from the definition: the smallest set with mass >= p (the most likely one if several)."""
    n = len(probs)
    for size in range(1, n + 1):
        best = max(combinations(range(n), size), key=lambda s: sum(probs[i] for i in s))
        if sum(probs[i] for i in best) >= p:
            return set(best)
    return set(range(n))


def test_top_p_matches_definition_on_batch():
    g = torch.Generator().manual_seed(2)
    z = torch.randn(5, 6, generator=g, dtype=torch.float64) * 2
    probs = torch.softmax(z, -1)
    for p in (0.05, 0.3, 0.5, 0.8, 0.95):
        kept = torch.isfinite(top_p_filter(z, p))
        for row in range(5):
            assert set(kept[row].nonzero().flatten().tolist()) == _smallest_nucleus(probs[row].tolist(), p)
    assert torch.equal(top_p_filter(z, 1.0), z)


def test_top_p_exact_cumulative_boundary():
    z = torch.log(torch.tensor([[0.1, 0.5, 0.15, 0.25], [0.25, 0.25, 0.25, 0.25]], dtype=torch.float64))
    cumulative = torch.softmax(z, -1).sort(dim=-1, descending=True, stable=True).values.cumsum(-1)
    for j in range(3):
        p = cumulative[0, j].item()  # the mass of the top j + 1 tokens, exactly as computed
        assert torch.isfinite(top_p_filter(z[:1], p)).sum() == j + 1
        above = torch.nextafter(torch.tensor(p, dtype=torch.float64), torch.tensor(2.0, dtype=torch.float64))
        assert torch.isfinite(top_p_filter(z[:1], above.item())).sum() == j + 2
    # Equal probabilities: p = 0.5 keeps exactly the two lowest ids; a tiny p keeps one token.
    assert torch.isfinite(top_p_filter(z[1:], 0.5)).tolist() == [[True, True, False, False]]
    assert torch.isfinite(top_p_filter(z, 1e-9)).sum(-1).tolist() == [1, 1]


def test_repetition_penalty_ctrl_rule():
    z = torch.tensor([[2.0, -1.0, 0.5, 0.0, 3.0], [1.0, 1.0, -2.0, 4.0, -0.5]])
    prev = torch.tensor([[0, 1, 0, 3], [2, 2, 4, 4]])  # repeated ids are penalised once
    out = repetition_penalty(z, prev, 2.0)
    expected = torch.tensor([[1.0, -2.0, 0.5, 0.0, 3.0], [1.0, 1.0, -4.0, 4.0, -1.0]])
    torch.testing.assert_close(out, expected)
    assert torch.equal(repetition_penalty(z, prev, 1.0), z)
    assert (out <= z).all()  # a penalty > 1 never raises a logit
    # Dividing a negative logit (the paper's formula applied literally) would raise it: -1 / 2 > -1.
    assert z[0, 1] < -1.0 / 2.0


def test_repetition_penalty_unbatched_and_lower_than_one():
    z = torch.tensor([1.0, -1.0, 2.0])
    torch.testing.assert_close(
        repetition_penalty(z, torch.tensor([0, 1]), 0.5), torch.tensor([2.0, -0.5, 2.0])
    )


def test_sample_temperature_zero_and_top_k_one_are_greedy():
    g = torch.Generator().manual_seed(3)
    z = torch.randn(6, 9, generator=g)
    assert torch.equal(sample_next_token(z, temperature=0.0), z.argmax(-1))
    assert torch.equal(sample_next_token(z, top_k=1, generator=g), z.argmax(-1))
    assert sample_next_token(z[0], temperature=0.0).shape == ()


def test_sample_frequencies_follow_filtered_distribution():
    z = torch.tensor([2.0, 1.0, 0.5, -1.0, -3.0])
    draws = sample_next_token(
        z.expand(20000, 5), temperature=0.7, top_p=0.9, generator=torch.Generator().manual_seed(4)
    )
    freq = torch.bincount(draws, minlength=5).float() / 20000
    expected = torch.softmax(top_p_filter(z / 0.7, 0.9), -1)
    torch.testing.assert_close(freq, expected, atol=0.015, rtol=0)
    assert freq[3:].sum() == 0  # outside the nucleus: never sampled


def test_sample_default_temperature_is_one():
    z = torch.randn(4, 8, generator=torch.Generator().manual_seed(5))
    a = sample_next_token(z, generator=torch.Generator().manual_seed(6))
    b = sample_next_token(
        z, temperature=1.0, top_k=None, top_p=None, generator=torch.Generator().manual_seed(6)
    )
    assert torch.equal(a, b)


def _toy_model(table: dict[tuple[int, ...], list[float]], vocab: int):
    """Next-token log-probs from a table keyed by the generated suffix; uniform when the key is missing."""

    def next_log_probs(tokens: list[int]) -> torch.Tensor:
        probs = table.get(tuple(tokens[1:]), [1.0 / vocab] * vocab)
        return torch.tensor(probs, dtype=torch.float64).log()

    return next_log_probs


def _exhaustive(model, prefix, steps, vocab):
    best = max(product(range(vocab), repeat=steps), key=lambda s: _score(model, prefix, s))
    return list(prefix) + list(best), _score(model, prefix, best)


def _score(model, prefix, suffix):
    tokens, total = list(prefix), 0.0
    for t in suffix:
        total += float(model(tokens)[t])
        tokens.append(t)
    return total


def test_beam_width_one_is_greedy_and_wide_beam_is_exact():
    g = torch.Generator().manual_seed(7)
    vocab, steps = 3, 3
    table = {}
    for length in range(steps):
        for suffix in product(range(vocab), repeat=length):
            table[suffix] = torch.softmax(torch.randn(vocab, generator=g), -1).tolist()
    model = _toy_model(table, vocab)
    assert beam_search(model, [9], steps, 1) == greedy_decode(model, [9], steps)
    tokens, score = beam_search(model, [9], steps, vocab**steps)
    ref_tokens, ref_score = _exhaustive(model, [9], steps, vocab)
    assert tokens == ref_tokens and score == pytest.approx(ref_score)


def test_beam_beats_greedy_on_crafted_model():
    # Greedy takes 0 (p = 0.6) but every continuation of 0 is flat; 1 (p = 0.4) is followed by a sure token.
    model = _toy_model({(): [0.6, 0.4], (0,): [0.5, 0.5], (1,): [0.05, 0.95]}, 2)
    greedy_tokens, greedy_score = greedy_decode(model, [7], 2)
    beam_tokens, beam_score = beam_search(model, [7], 2, 2)
    assert greedy_tokens == [7, 0, 0] and beam_tokens == [7, 1, 1]
    assert beam_score == pytest.approx(math.log(0.4 * 0.95)) and greedy_score == pytest.approx(math.log(0.3))


def test_decoding_bad_inputs():
    z = torch.zeros(2, 4)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        temperature_softmax(z, 0.0)
    with pytest.raises(ValueError, match="k must be >= 1"):
        top_k_filter(z, 0)
    with pytest.raises(ValueError, match=r"p must be in \(0, 1\]"):
        top_p_filter(z, 0.0)
    with pytest.raises(ValueError, match=r"p must be in \(0, 1\]"):
        top_p_filter(z, 1.01)
    with pytest.raises(ValueError, match="penalty must be > 0"):
        repetition_penalty(z, torch.zeros(2, 1, dtype=torch.long), 0.0)
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        sample_next_token(z, temperature=-1.0)
    with pytest.raises(ValueError, match="beam_width must be >= 1"):
        beam_search(_toy_model({}, 2), [0], 1, 0)
    # Valid edges: tiny positive temperature, k = 1, p just above 0 and p = 1, penalty just above 0.
    assert temperature_softmax(z, 1e-6).shape == z.shape
    assert torch.isfinite(top_k_filter(z, 1)).sum() == 2
    assert torch.isfinite(top_p_filter(z, 1e-12)).sum() == 2 and torch.equal(top_p_filter(z, 1.0), z)
    assert repetition_penalty(z, torch.zeros(2, 1, dtype=torch.long), 1e-9).shape == z.shape


def test_warpers_act_on_the_last_dim_of_any_rank():
    g = torch.Generator().manual_seed(8)
    z = torch.randn(2, 3, 6, generator=g)  # [batch, beams, vocab]: every dim has a different size
    flat = z.reshape(6, 6)
    torch.testing.assert_close(temperature_softmax(z, 0.5), torch.softmax(z / 0.5, dim=-1))
    torch.testing.assert_close(top_k_filter(z, 2), top_k_filter(flat, 2).reshape(2, 3, 6))
    torch.testing.assert_close(top_p_filter(z, 0.6), top_p_filter(flat, 0.6).reshape(2, 3, 6))
    prev = torch.tensor([[[0, 5]] * 3] * 2)
    torch.testing.assert_close(
        repetition_penalty(z, prev, 1.5), repetition_penalty(flat, prev.reshape(6, 2), 1.5).reshape(2, 3, 6)
    )
    out = contrastive_decoding_logits(z, -z, alpha=0.5, beta=0.3)
    torch.testing.assert_close(out, contrastive_decoding_logits(flat, -flat, 0.5, 0.3).reshape(2, 3, 6))
    assert sample_next_token(z, generator=g).shape == (2, 3)
    assert sample_next_token(z[0, 0], generator=g).shape == ()  # one row: a 0-dim token id


def test_top_p_one_keeps_a_negligible_tail():
    z = torch.tensor([0.0, -200.0])  # p = [1, ~1e-87]: in float32 the mass before token 1 is exactly 1.0
    assert torch.equal(top_p_filter(z, 1.0), z)


def test_contrastive_decoding_defaults_are_alpha_1_beta_0_1():
    g = torch.Generator().manual_seed(9)
    logits, distorted = torch.randn(3, 12, generator=g) * 2, torch.randn(3, 12, generator=g)
    torch.testing.assert_close(
        contrastive_decoding_logits(logits, distorted),
        contrastive_decoding_logits(logits, distorted, alpha=1.0, beta=0.1),
    )
    assert not torch.equal(
        contrastive_decoding_logits(logits, distorted),
        contrastive_decoding_logits(logits, distorted, 2.0, 0.1),
    )


def test_ties_go_to_the_lowest_ids_even_in_a_large_vocabulary():
    z = torch.zeros(2, 500)  # 500 tied tokens: an unstable sort would not keep them in id order
    assert torch.isfinite(top_k_filter(z, 3)).nonzero()[:, 1].tolist() == [0, 1, 2] * 2
    assert torch.isfinite(top_p_filter(z, 3 / 500)).nonzero()[:, 1].tolist() == [0, 1, 2] * 2
