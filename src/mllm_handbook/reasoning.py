r"""Reasoning models: verifiable rewards for RL, and what sampling several answers buys at test time.

* A **verifiable reward** (RLVR) is computed by a rule instead of a learned reward model: extract the final
  answer, check the output format, compare with the reference (DeepSeek-R1 used accuracy and format rewards).
* **Majority voting** (self-consistency, Wang et al., 2023) and **best-of-N with a verifier** (Cobbe et al.,
  2021) spend test-time compute on several samples; their accuracy follows from the binomial distribution.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from fractions import Fraction

from mllm_handbook._checks import check

TAGS = ("<think>", "</think>", "<answer>", "</answer>")
_FORMAT = re.compile(r"<think>.*</think>\s*<answer>(.*)</answer>", re.DOTALL)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")


def extract_answer(completion: str) -> str | None:
    r"""The final answer of a completion in the R1 format, or ``None`` if the format is wrong.

    The format is ``<think> reasoning </think> <answer> answer </answer>`` and nothing else (surrounding
    whitespace aside), with each tag exactly once: a second answer block would let a policy hedge.

    Args:
        completion: the generated text.

    Returns:
        The stripped text between the answer tags, or ``None``.
    """
    if any(completion.count(tag) != 1 for tag in TAGS):
        return None
    match = _FORMAT.fullmatch(completion.strip())
    return match.group(1).strip() if match else None


def answers_match(answer: str, reference: str) -> bool:
    """Compare answers as exact numbers when both parse (``0.5 == 1/2``, ``1,000 == 1000``), else as text.

    Args:
        answer: the extracted answer.
        reference: the ground-truth answer.

    Returns:
        Whether they match.
    """
    a, b = (_THOUSANDS.sub("", s.strip().rstrip(".")) for s in (answer, reference))
    try:
        return Fraction(a) == Fraction(b)
    except (ValueError, ZeroDivisionError):
        return a.casefold() == b.casefold()


def verifiable_reward(completion: str, reference: str, format_weight: float = 0.1) -> float:
    r"""Rule-based reward: an accuracy reward plus a format reward, no reward model.

    $$R = \mathbb{1}[\text{answer} = \text{reference}] + w \cdot \mathbb{1}[\text{format ok}]$$

    A completion in the wrong format gets 0: its answer cannot be extracted reliably, so it earns neither
    term. DeepSeek-R1 (DeepSeek-AI, 2025, arXiv 2501.12948) used accuracy and format rewards; the weight
    $w$ here is a free choice, not a published value.

    Args:
        completion: the generated text (see :func:`extract_answer`).
        reference: the ground-truth final answer.
        format_weight: $w \ge 0$.

    Returns:
        ``0``, ``w`` (right format, wrong answer) or ``1 + w``.
    """
    check(format_weight >= 0, f"format_weight must be >= 0, got {format_weight}")
    answer = extract_answer(completion)
    if answer is None:
        return 0.0
    return float(answers_match(answer, reference)) + format_weight


def majority_vote(answers: Sequence[str]) -> str:
    """The most frequent answer (self-consistency, Wang et al., 2023); ties go to the answer seen first.

    Args:
        answers: final answers of several sampled solutions.

    Returns:
        The majority answer.
    """
    check(len(answers) > 0, "need at least one answer")
    return Counter(answers).most_common(1)[0][0]


def majority_vote_accuracy(p: float, n: int) -> float:
    r"""Exact accuracy of a majority vote over $n$ independent samples when only two answers are possible.

    Each sample is right with probability $p$; a tie (even $n$) is broken by a fair coin:

    $$P_n = \sum_{k > n/2} \binom{n}{k} p^k (1-p)^{n-k}
    + \mathbb{1}[n \text{ even}]\ \tfrac12 \binom{n}{n/2} p^{n/2} (1-p)^{n/2}$$

    It rises towards 1 with $n$ when $p > 0.5$ and falls towards 0 when $p < 0.5$.

    Args:
        p: per-sample accuracy in ``[0, 1]``.
        n: number of samples, ``>= 1``.

    Returns:
        Probability that the vote is right.
    """
    check(0 <= p <= 1 and n >= 1, f"need 0 <= p <= 1 and n >= 1, got p={p}, n={n}")
    win = sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n // 2 + 1, n + 1))
    tie = 0.5 * math.comb(n, n // 2) * (p * (1 - p)) ** (n // 2) if n % 2 == 0 else 0.0
    return win + tie


def best_of_n_accuracy(p: float, n: int, tpr: float, fpr: float) -> float:
    r"""Exact accuracy of best-of-$n$ with an imperfect binary verifier.

    Each of $n$ independent samples is right with probability $p$. The verifier accepts a right answer with
    probability $\mathrm{tpr}$ and a wrong one with $\mathrm{fpr}$; we return a random accepted sample, or a
    random sample if none is accepted. With $a = p\,\mathrm{tpr}$, $b = (1-p)\,\mathrm{fpr}$, $q = 1 - a - b$:

    $$P_n = (1 - q^n)\frac{a}{a + b} + q^{n-1}\, p\,(1 - \mathrm{tpr})$$

    As $n \to \infty$ it tends to the verifier's precision $a / (a + b)$, not to 1.

    Args:
        p: per-sample accuracy in ``[0, 1]``.
        n: number of samples, ``>= 1``.
        tpr: probability the verifier accepts a right answer, in ``[0, 1]``.
        fpr: probability it accepts a wrong one, in ``[0, 1]``.

    Returns:
        Probability that the returned answer is right.
    """
    check(all(0 <= x <= 1 for x in (p, tpr, fpr)) and n >= 1, "need p, tpr, fpr in [0, 1] and n >= 1")
    a, b = p * tpr, (1 - p) * fpr
    if a + b == 0:  # the verifier never accepts anything: best-of-n is a single random sample
        return p
    q = 1 - a - b
    return (1 - q**n) * a / (a + b) + q ** (n - 1) * p * (1 - tpr)
