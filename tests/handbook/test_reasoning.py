"""reasoning: rule-based verifiable reward, majority voting and best-of-N against exact and sampled values."""

import itertools
import math

import pytest
import torch

from mllm_handbook.reasoning import (
    answers_match,
    best_of_n_accuracy,
    extract_answer,
    majority_vote,
    majority_vote_accuracy,
    verifiable_reward,
)

GOOD = "<think>3 + 4 = 7, times 6 is 42.</think>\n<answer>42</answer>"


# answer extraction and format check


@pytest.mark.parametrize(
    ("completion", "answer"),
    [
        (GOOD, "42"),
        ("  <think>x</think><answer> 1/2 </answer>\n", "1/2"),  # surrounding whitespace is fine
        ("<think>a\nb</think>   <answer>A\nB</answer>", "A\nB"),  # multi-line blocks
        ("<think></think><answer></answer>", ""),  # empty but well formed
    ],
)
def test_extract_answer_well_formed(completion, answer):
    assert extract_answer(completion) == answer


@pytest.mark.parametrize(
    "completion",
    [
        "The answer is 42.",  # no tags
        "<answer>42</answer>",  # no reasoning block
        "<think>...</think>",  # no answer block
        "<think>...</think><answer>41</answer><answer>42</answer>",  # hedging with two answers
        "<think>...</think><think>...</think><answer>42</answer>",  # two think blocks
        "<answer>42</answer><think>...</think>",  # wrong order
        "<think>...</think><answer>42</answer> so 42",  # text after the answer
        "I think <think>...</think><answer>42</answer>",  # text before the reasoning
        "<think>...</think> and <answer>42</answer>",  # text between the blocks
    ],
)
def test_extract_answer_rejects_bad_format(completion):
    assert extract_answer(completion) is None


@pytest.mark.parametrize(
    ("answer", "reference", "expected"),
    [
        ("0.5", "1/2", True),
        ("1,000", "1000", True),
        ("1,000,000", "1000000", True),
        ("42.", "42", True),
        ("-3", "-3.0", True),
        ("2.5e1", "25", True),
        ("41", "42", False),
        ("1/3", "0.333", False),  # exact, not approximate
        ("Paris", " paris", True),  # text: case and surrounding whitespace ignored
        ("Paris", "London", False),
        ("1/0", "1/0", True),  # not a number: compared as text
        ("12", "1,2", False),  # a comma that does not group thousands stays
    ],
)
def test_answers_match(answer, reference, expected):
    assert answers_match(answer, reference) is expected


def test_verifiable_reward_values_and_default_weight():
    assert verifiable_reward(GOOD, "42") == 1.1
    assert verifiable_reward(GOOD, "42") == verifiable_reward(GOOD, "42", format_weight=0.1)
    assert verifiable_reward(GOOD, "41", format_weight=0.5) == 0.5  # format only
    assert verifiable_reward("The answer is 42.", "42") == 0.0  # right number, wrong format: no credit
    assert verifiable_reward(GOOD, "42", format_weight=0.0) == 1.0  # valid edge


def test_verifiable_reward_bad_weight():
    with pytest.raises(ValueError, match="format_weight"):
        verifiable_reward(GOOD, "42", format_weight=-0.1)


def test_majority_vote():
    assert majority_vote(["7", "5", "7", "5", "3"]) == "7"  # tie 2-2 between 7 and 5: first seen wins
    assert majority_vote(["5", "7", "7"]) == "7"
    with pytest.raises(ValueError, match="at least one"):
        majority_vote([])


# majority-vote accuracy


def enumerate_majority(p, n):
    """Sum over all 2^n outcomes; ties count one half."""
    total = 0.0
    for outcome in itertools.product([0, 1], repeat=n):
        k = sum(outcome)
        prob = p**k * (1 - p) ** (n - k)
        total += prob * (1.0 if 2 * k > n else 0.5 if 2 * k == n else 0.0)
    return total


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 9])
@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 0.62, 1.0])
def test_majority_vote_accuracy_matches_enumeration(p, n):
    assert math.isclose(majority_vote_accuracy(p, n), enumerate_majority(p, n), abs_tol=1e-12)


def test_majority_vote_accuracy_monotone_in_n():
    odd = [1, 3, 5, 11, 21, 51]
    up = [majority_vote_accuracy(0.6, n) for n in odd]
    down = [majority_vote_accuracy(0.4, n) for n in odd]
    assert all(b > a for a, b in itertools.pairwise(up)) and up[-1] > 0.9
    assert all(b < a for a, b in itertools.pairwise(down)) and down[-1] < 0.1
    assert all(math.isclose(majority_vote_accuracy(0.5, n), 0.5) for n in odd)
    # A tie broken by a coin: an even vote is no better than the odd vote just below it.
    for k in range(1, 6):
        assert math.isclose(majority_vote_accuracy(0.7, 2 * k), majority_vote_accuracy(0.7, 2 * k - 1))


def test_majority_vote_accuracy_monte_carlo():
    g = torch.Generator().manual_seed(0)
    correct = (torch.rand(200_000, 7, generator=g) < 0.6).sum(1)
    assert abs((correct >= 4).double().mean().item() - majority_vote_accuracy(0.6, 7)) < 0.005


def test_majority_vote_accuracy_bad_inputs():
    for p, n in [(-0.1, 3), (1.1, 3), (0.5, 0)]:
        with pytest.raises(ValueError, match="need 0 <= p <= 1"):
            majority_vote_accuracy(p, n)


# best-of-N with an imperfect verifier


def simulate_best_of_n(p, n, tpr, fpr, trials, seed):
    g = torch.Generator().manual_seed(seed)
    right = torch.rand(trials, n, generator=g) < p
    accepted = torch.where(
        right, torch.rand(trials, n, generator=g) < tpr, torch.rand(trials, n, generator=g) < fpr
    )
    # Return a random accepted sample, else a random sample: the first one after a random shuffle.
    keys = torch.rand(trials, n, generator=g) + accepted.float()  # accepted samples sort first
    pick = keys.argmax(dim=1)
    return right[torch.arange(trials), pick].double().mean().item()


@pytest.mark.parametrize(
    ("p", "n", "tpr", "fpr"), [(0.3, 4, 0.9, 0.1), (0.6, 3, 0.7, 0.4), (0.2, 16, 1.0, 0.05)]
)
def test_best_of_n_matches_simulation(p, n, tpr, fpr):
    exact = best_of_n_accuracy(p, n, tpr, fpr)
    assert abs(simulate_best_of_n(p, n, tpr, fpr, 200_000, seed=n) - exact) < 0.005


def test_best_of_n_limits():
    p, tpr, fpr = 0.3, 0.9, 0.1
    assert math.isclose(best_of_n_accuracy(p, 1, tpr, fpr), p)  # one sample: the verifier cannot help
    precision = p * tpr / (p * tpr + (1 - p) * fpr)
    assert math.isclose(best_of_n_accuracy(p, 2000, tpr, fpr), precision)
    values = [best_of_n_accuracy(p, n, tpr, fpr) for n in (1, 2, 4, 8, 16, 64)]
    assert all(b > a for a, b in itertools.pairwise(values))
    assert math.isclose(best_of_n_accuracy(p, 50, 1.0, 0.0), 1 - (1 - p) ** 50)  # a perfect verifier: pass@n
    assert best_of_n_accuracy(p, 7, 0.0, 0.0) == p  # a verifier that accepts nothing
    assert math.isclose(best_of_n_accuracy(p, 7, 0.5, 0.5), p)  # an uninformative verifier


def test_best_of_n_bad_inputs():
    for args in [(1.2, 3, 0.9, 0.1), (0.3, 0, 0.9, 0.1), (0.3, 3, -0.1, 0.1), (0.3, 3, 0.9, 1.5)]:
        with pytest.raises(ValueError, match="need p, tpr, fpr"):
            best_of_n_accuracy(*args)
