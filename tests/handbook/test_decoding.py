"""decoding: visual contrastive decoding against a hand-computed example and its invariants."""

import math

import pytest
import torch

from mllm_handbook.decoding import contrastive_decoding_logits


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
    with pytest.raises(ValueError, match="same shape"):
        contrastive_decoding_logits(x, torch.zeros(4))
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        contrastive_decoding_logits(x, x, alpha=-0.1)
    with pytest.raises(ValueError, match=r"beta must be in \(0, 1\]"):
        contrastive_decoding_logits(x, x, beta=0.0)
    with pytest.raises(ValueError, match=r"beta must be in \(0, 1\]"):
        contrastive_decoding_logits(x, x, beta=1.5)
