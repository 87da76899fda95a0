"""speculative: the accept/resample rule reproduces the target law, exactly and by Monte Carlo; Leviathan's formulas."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mllm_handbook.speculative import (
    acceptance_rate,
    expected_speedup,
    expected_tokens_per_call,
    residual_distribution,
    speculative_generate,
    speculative_output_distribution,
    speculative_sample,
    speculative_step,
)


def dists(seed, *shape, zeros=False):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(*shape, generator=g, dtype=torch.float64) * 2
    if zeros:  # some tokens impossible, as after top-k / top-p filtering
        logits[..., :2] = -math.inf
    return logits.softmax(-1)


def test_acceptance_rate_is_overlap_and_one_minus_tv():
    p, q = dists(0, 3, 7), dists(1, 3, 7)
    alpha = acceptance_rate(p, q)
    torch.testing.assert_close(alpha, (q * (p / q).clamp(max=1)).sum(-1))
    torch.testing.assert_close(alpha, 1 - 0.5 * (p - q).abs().sum(-1))
    torch.testing.assert_close(acceptance_rate(p, p), torch.ones(3, dtype=torch.float64))


def test_residual_distribution():
    p, q = dists(2, 4, 9), dists(3, 4, 9)
    r = residual_distribution(p, q)
    torch.testing.assert_close(r.sum(-1), torch.ones(4, dtype=torch.float64))
    assert (r[q >= p] == 0).all()  # only tokens the draft under-proposes are resampled
    torch.testing.assert_close(r * (1 - acceptance_rate(p, q)).unsqueeze(-1), (p - q).clamp(min=0))
    torch.testing.assert_close(residual_distribution(p, p), p)  # never used, but well defined


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), vocab=st.integers(2, 50), zeros_p=st.booleans(), zeros_q=st.booleans())
def test_output_distribution_is_exactly_p(seed, vocab, zeros_p, zeros_q):
    p = dists(seed, 3, vocab, zeros=zeros_p and vocab > 2)
    q = dists(seed + 1, 3, vocab, zeros=zeros_q and vocab > 2)
    torch.testing.assert_close(speculative_output_distribution(p, q), p)


def test_speculative_sample_monte_carlo():
    p, q = dists(4, 6), dists(5, 6)
    n = 100_000
    counts = torch.bincount(speculative_sample(p, q, n, torch.Generator().manual_seed(0)), minlength=6)
    tolerance = 4.5 * torch.sqrt(p * (1 - p) / n)  # binomial standard error of each frequency
    assert ((counts / n - p).abs() < tolerance).all()
    wrong = torch.minimum(p, q) + (1 - acceptance_rate(p, q)) * p  # resampling from p instead of the residual
    assert ((wrong - p).abs() > 3 * tolerance).any()  # a test this tight would catch that mistake


def test_speculative_sample_default_generator():
    p, q = dists(6, 5), dists(7, 5)
    torch.manual_seed(3)
    a = speculative_sample(p, q, 20)
    torch.manual_seed(3)
    assert torch.equal(a, speculative_sample(p, q, 20, generator=None))


def one_hot(ids, vocab):
    return torch.nn.functional.one_hot(torch.tensor(ids), vocab).double()


def test_step_greedy_accepts_until_the_first_mismatch():
    target = one_hot([3, 1, 4, 1, 5], 6)  # argmax at each of gamma + 1 = 5 positions
    draft_tokens = torch.tensor([3, 1, 2, 1])  # third draft token disagrees
    n, nxt = speculative_step(target, one_hot(draft_tokens.tolist(), 6), draft_tokens)
    assert n.item() == 2 and nxt.item() == 4  # two accepted, the target's choice replaces the third
    n, nxt = speculative_step(target, one_hot([3, 1, 4, 1], 6), torch.tensor([3, 1, 4, 1]))
    assert n.item() == 4 and nxt.item() == 5  # all accepted plus the bonus token


def test_step_batched_shapes_and_extremes():
    g = torch.Generator().manual_seed(8)
    p, q = dists(9, 2, 4, 7), dists(10, 2, 3, 7)  # batch 2, gamma 3, vocab 7
    x = torch.multinomial(q.reshape(-1, 7), 1, generator=g).reshape(2, 3)
    n, nxt = speculative_step(p, q, x, g)
    assert n.shape == (2,) and nxt.shape == (2,) and ((n >= 0) & (n <= 3)).all()
    same = torch.cat([q, q[:, :1]], dim=1)
    assert (speculative_step(same, q, x, g)[0] == 3).all()  # p = q: nothing is ever rejected
    banned = same.clone()
    banned[torch.arange(2), 0, x[:, 0]] = 0  # the target never emits the first draft token
    banned[:, 0] /= banned[:, 0].sum(-1, keepdim=True)
    n, nxt = speculative_step(banned, q, x, g)
    assert (n == 0).all() and (nxt != x[:, 0]).all()
    with pytest.raises(ValueError, match="gamma \\+ 1 rows"):
        speculative_step(p[:, :3], q, x)


def test_mean_tokens_per_call_matches_leviathan_eq1():
    p, q, gamma, trials = dists(11, 8), dists(12, 8), 4, 40_000
    g = torch.Generator().manual_seed(1)
    x = torch.multinomial(q, trials * gamma, replacement=True, generator=g).reshape(trials, gamma)
    n, _ = speculative_step(p.expand(trials, gamma + 1, 8), q.expand(trials, gamma, 8), x, g)
    expected = expected_tokens_per_call(acceptance_rate(p, q).item(), gamma)
    assert abs((n + 1).double().mean().item() - expected) < 4 * (gamma / 2) / math.sqrt(trials)


def bigram(table):
    return lambda tokens: table[tokens]


def test_greedy_speculative_decoding_equals_greedy_target():
    vocab = 11
    logits = torch.randn(vocab, vocab, generator=torch.Generator().manual_seed(16), dtype=torch.float64)
    greedy = [0]
    for _ in range(40):
        greedy.append(int(logits[greedy[-1]].argmax()))
    target_next = logits.argmax(-1)
    draft_next = target_next.clone()
    draft_next[4] = (target_next[4] + 1) % vocab  # the draft is wrong after state 4 (greedy[1])
    target, draft = one_hot(target_next.tolist(), vocab), one_hot(draft_next.tolist(), vocab)  # temperature 0
    out, calls = speculative_generate(bigram(target), bigram(draft), torch.tensor([0]), 40, gamma=3)
    assert greedy[:3] == [0, 4, 7] and out.tolist() == greedy
    assert 40 / 4 < calls < 40  # some drafts rejected, most accepted


def test_generated_pairs_follow_the_target_law():
    g = torch.Generator().manual_seed(14)
    target, draft = dists(15, 3, 3), dists(16, 3, 3)
    runs, counts = 3000, torch.zeros(3, 3)
    for _ in range(runs):
        out, _ = speculative_generate(
            bigram(target), bigram(draft), torch.tensor([0]), 2, gamma=2, generator=g
        )
        counts[out[1], out[2]] += 1
    joint = target[0].unsqueeze(1) * target  # p(x1 | 0) p(x2 | x1)
    tolerance = 4.5 * torch.sqrt(joint * (1 - joint) / runs)
    assert ((counts / runs - joint).abs() < tolerance).all()


def test_generate_bad_inputs():
    t = bigram(dists(17, 4, 4))
    with pytest.raises(ValueError, match="gamma must be >= 1"):
        speculative_generate(t, t, torch.tensor([0]), 3, gamma=0)
    with pytest.raises(ValueError, match="at least one token"):
        speculative_generate(t, t, torch.tensor([], dtype=torch.long), 3, gamma=1)


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.8, 1.0])
@pytest.mark.parametrize("gamma", [1, 2, 5])
def test_expected_tokens_is_a_truncated_geometric_sum(alpha, gamma):
    assert math.isclose(expected_tokens_per_call(alpha, gamma), sum(alpha**k for k in range(gamma + 1)))


def test_expected_speedup():
    assert math.isclose(expected_speedup(0.8, 4, 0.0), expected_tokens_per_call(0.8, 4))
    assert math.isclose(expected_speedup(0.6, 1, 0.1), (1 + 0.6) / (1 + 0.1))  # gamma = 1: (1 + a)/(1 + c)
    assert math.isclose(expected_speedup(0.0, 3, 0.05), 1 / 1.15)  # nothing accepted: pure overhead
    assert expected_speedup(0.0, 3, 0.0) == 1.0  # valid edges: alpha = 0, c = 0


def test_expected_speedup_reproduces_leviathan_table4():
    # Leviathan et al. (2023), Table 4: (alpha, gamma, c) -> "Exp". The table's alpha and c are
    # rounded to two decimals, so the formula matches its one-decimal column to within 0.07.
    rows = [(0.75, 7, 0.02, 3.2), (0.8, 7, 0.04, 3.3), (0.82, 7, 0.11, 2.5), (0.62, 7, 0.02, 2.3)]
    rows += [(0.68, 5, 0.04, 2.4), (0.71, 3, 0.11, 2.0), (0.65, 5, 0.02, 2.4), (0.73, 5, 0.04, 2.6)]
    rows += [(0.74, 3, 0.11, 2.0), (0.53, 5, 0.02, 1.9), (0.55, 3, 0.04, 1.8), (0.56, 3, 0.11, 1.6)]
    for alpha, gamma, c, exp in rows:
        assert abs(expected_speedup(alpha, gamma, c) - exp) < 0.07


def test_formula_bad_inputs():
    with pytest.raises(ValueError, match="alpha must be in"):
        expected_tokens_per_call(1.1, 3)
    with pytest.raises(ValueError, match="gamma must be >= 1"):
        expected_tokens_per_call(0.5, 0)
    with pytest.raises(ValueError, match="c must be >= 0"):
        expected_speedup(0.5, 3, -0.1)
