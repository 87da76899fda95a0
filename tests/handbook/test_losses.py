"""losses: each loss against torch.nn.functional or a hand computation, plus the papers' invariants."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mllm_handbook.losses import (
    clip_loss,
    contrastive_logits,
    cross_entropy,
    cross_entropy_grad,
    diffusion_epsilon_loss,
    distillation_loss,
    enqueue,
    huber_loss,
    info_nce,
    itm_loss,
    l1_loss,
    mse_loss,
    sample_hard_negatives,
    siglip_loss,
    siglip_loss_chunked,
    stable_log_softmax,
)

seeds = st.integers(0, 2**16)


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# --- CLIP -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 8])
def test_clip_loss_is_log_n_for_uniform_logits(n):
    same = torch.ones(n, 4, dtype=torch.float64)  # every image equals every text: all logits equal
    torch.testing.assert_close(clip_loss(same, same, 10.0), torch.tensor(math.log(n), dtype=torch.float64))


def test_clip_loss_equals_hand_computation():
    v = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)  # norms 1 and 2: normalised inside
    t = torch.tensor([[1.0, 1.0], [0.0, 1.0]], dtype=torch.float64)
    s = 2.0
    c = 1 / math.sqrt(2)
    S = [[s * c, 0.0], [s * c, s]]  # S[i][j] = s * cos(v_i, t_j)

    def ce(row, k):
        return -row[k] + math.log(sum(math.exp(x) for x in row))

    i2t = (ce(S[0], 0) + ce(S[1], 1)) / 2
    t2i = (ce([S[0][0], S[1][0]], 0) + ce([S[0][1], S[1][1]], 1)) / 2
    expected = torch.tensor((i2t + t2i) / 2, dtype=torch.float64)
    torch.testing.assert_close(clip_loss(v, t, s), expected)
    torch.testing.assert_close(contrastive_logits(v, t, s), torch.tensor(S, dtype=torch.float64))


def test_clip_directions_differ_on_non_symmetric_example():
    v = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    t = torch.tensor([[1.0, 0.2], [0.3, 1.0], [0.9, 0.1]])
    logits = contrastive_logits(v, t, 5.0)
    labels = torch.arange(3)
    i2t, t2i = F.cross_entropy(logits, labels), F.cross_entropy(logits.T, labels)
    assert abs(i2t - t2i) > 1e-2
    torch.testing.assert_close(clip_loss(v, t, 5.0), (i2t + t2i) / 2)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 6), seed=seeds, scale=st.floats(0.5, 100.0))
def test_clip_loss_scale_invariance_and_symmetry(n, seed, scale):
    v, t = randn(n, 5, seed=seed), randn(n, 5, seed=seed + 1)
    loss = clip_loss(v, t, scale)
    torch.testing.assert_close(clip_loss(3.0 * v, 0.5 * t, scale), loss)  # features are L2-normalised
    torch.testing.assert_close(clip_loss(t, v, scale), loss)  # swapping modalities swaps the two terms


def test_clip_loss_accepts_learnable_tensor_scale():
    log_scale = torch.tensor(math.log(1 / 0.07), requires_grad=True)
    loss = clip_loss(randn(4, 3).float(), randn(4, 3, seed=1).float(), log_scale.exp())
    loss.backward()
    assert log_scale.grad is not None and log_scale.grad.abs() > 0


def test_clip_loss_bad_inputs_raise():
    with pytest.raises(ValueError, match="batch sizes differ"):
        clip_loss(torch.randn(3, 4), torch.randn(2, 4), 1.0)
    for bad in (0.0, -1.0, torch.tensor(-2.0)):
        with pytest.raises(ValueError, match="logit_scale"):
            clip_loss(torch.randn(3, 4), torch.randn(3, 4), bad)


# --- InfoNCE with a queue -----------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 5), k=st.integers(1, 7), seed=seeds, tau=st.floats(0.02, 2.0))
def test_info_nce_equals_cross_entropy_on_pos_neg_logits(n, k, seed, tau):
    q, kp, kn = randn(n, 4, seed=seed), randn(n, 4, seed=seed + 1), randn(k, 4, seed=seed + 2)
    qn, kpn, knn = F.normalize(q, dim=1), F.normalize(kp, dim=1), F.normalize(kn, dim=1)
    logits = torch.cat([(qn * kpn).sum(1, keepdim=True), qn @ knn.T], dim=1) / tau
    expected = F.cross_entropy(logits, torch.zeros(n, dtype=torch.long))
    torch.testing.assert_close(info_nce(q, kp, kn, tau), expected)


def test_info_nce_single_negative_is_logistic():
    q = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    kp = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    kn = torch.tensor([[0.0, 1.0]], dtype=torch.float64)
    expected = torch.tensor(math.log(1 + math.exp(-1 / 0.5)), dtype=torch.float64)
    torch.testing.assert_close(info_nce(q, kp, kn, 0.5), expected)


def test_info_nce_bad_inputs_raise():
    q = torch.randn(2, 4)
    for bad in (0.0, -0.1):
        with pytest.raises(ValueError, match="temperature must be > 0"):
            info_nce(q, q, torch.randn(3, 4), bad)
    with pytest.raises(ValueError, match="at least one negative"):
        info_nce(q, q, torch.randn(0, 4), 0.1)
    with pytest.raises(ValueError, match="one positive per query"):
        info_nce(q, torch.randn(3, 4), torch.randn(3, 4), 0.1)


def test_enqueue_is_fifo():
    queue = torch.arange(8.0).reshape(4, 2)
    keys = torch.tensor([[-1.0, -1.0]])
    out = enqueue(queue, keys)
    torch.testing.assert_close(out, torch.cat([keys, queue[:3]]))
    with pytest.raises(ValueError, match="cannot enqueue 5 keys"):
        enqueue(queue, torch.zeros(5, 2))


# --- ITM ------------------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 6), seed=seeds)
def test_hard_negative_sampler_never_picks_the_positive(n, seed):
    sim = randn(n, n, seed=seed) * 5 + 50 * torch.eye(n, dtype=torch.float64)  # positive far most similar
    g = torch.Generator().manual_seed(seed)
    for _ in range(20):
        idx = sample_hard_negatives(sim, generator=g)
        assert idx.shape == (n,) and not (idx == torch.arange(n)).any()


def test_hard_negative_sampler_prefers_similar_negatives():
    sim = torch.tensor([[9.0, 3.0, 0.0], [0.0, 9.0, 0.0], [0.0, 0.0, 9.0]])
    g = torch.Generator().manual_seed(0)
    picks = torch.stack([sample_hard_negatives(sim, generator=g)[0] for _ in range(400)])
    frac = (picks == 1).double().mean().item()
    assert abs(frac - math.exp(3) / (math.exp(3) + 1)) < 0.05  # P(j=1 | i=0) = e^3 / (e^3 + e^0)


def test_hard_negative_sampler_bad_inputs_raise():
    with pytest.raises(ValueError, match="N >= 2"):
        sample_hard_negatives(torch.randn(1, 1))


def test_itm_loss_equals_binary_cross_entropy():
    logits = randn(6, 2)
    labels = torch.tensor([1, 0, 0, 1, 0, 1])
    torch.testing.assert_close(itm_loss(logits, labels), F.cross_entropy(logits, labels))
    p_match = torch.softmax(logits, dim=1)[:, 1]
    bce = F.binary_cross_entropy(p_match, labels.double())
    torch.testing.assert_close(itm_loss(logits, labels), bce)
    assert itm_loss(logits, labels) > 0  # a proper loss is positive; the sign-flipped one is negative


def test_itm_loss_bad_inputs_raise():
    with pytest.raises(ValueError, match=r"\[M, 2\]"):
        itm_loss(torch.randn(3, 3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="0 \\(no match\\) or 1"):
        itm_loss(torch.randn(3, 2), torch.tensor([0, 1, 2]))


# --- regression and classification ------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), seed=seeds, delta=st.floats(0.1, 3.0))
def test_regression_losses_match_torch(shape, seed, delta):
    a, b = randn(*shape, seed=seed) * 2, randn(*shape, seed=seed + 1) * 2
    torch.testing.assert_close(mse_loss(a, b), F.mse_loss(a, b))
    torch.testing.assert_close(l1_loss(a, b), F.l1_loss(a, b))
    torch.testing.assert_close(huber_loss(a, b, delta), F.huber_loss(a, b, delta=delta))


def test_mse_averages_over_elements_not_samples():
    pred, target = torch.zeros(2, 3), torch.ones(2, 3)
    assert mse_loss(pred, target).item() == 1.0  # sum 6 / 6 elements, not / 2 samples


def test_regression_bad_inputs_raise():
    with pytest.raises(ValueError, match="same shape"):
        mse_loss(torch.zeros(2), torch.zeros(3))
    with pytest.raises(ValueError, match="delta must be > 0"):
        huber_loss(torch.zeros(2), torch.zeros(2), delta=0.0)


@settings(max_examples=25, deadline=None)
@given(m=st.integers(1, 6), c=st.integers(2, 5), seed=seeds, eps=st.floats(0.0, 1.0))
def test_cross_entropy_matches_torch(m, c, seed, eps):
    logits = randn(m, c, seed=seed)
    target = torch.randint(0, c, (m,), generator=torch.Generator().manual_seed(seed))
    target[0] = -100 if m > 1 else target[0]
    expected = F.cross_entropy(logits, target, label_smoothing=eps)
    torch.testing.assert_close(cross_entropy(logits, target, label_smoothing=eps), expected)


def test_cross_entropy_bad_inputs_raise():
    with pytest.raises(ValueError, match="label_smoothing"):
        cross_entropy(torch.randn(2, 3), torch.zeros(2, dtype=torch.long), label_smoothing=1.5)
    with pytest.raises(ValueError, match="nothing to average"):
        cross_entropy(torch.randn(2, 3), torch.full((2,), -100))
    with pytest.raises(ValueError, match=r"\[M, C\]"):
        cross_entropy(torch.randn(3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="target must be"):
        cross_entropy(torch.randn(2, 3), torch.zeros(3, dtype=torch.long))


# --- softmax stability and the p - y gradient --------------------------------------------------------


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_stable_log_softmax_matches_torch_on_any_dim(dim):
    z = randn(3, 5, 2) * 4
    torch.testing.assert_close(stable_log_softmax(z, dim=dim), torch.log_softmax(z, dim=dim))
    torch.testing.assert_close(stable_log_softmax(z), stable_log_softmax(z, dim=-1))  # default dim


def test_stable_log_softmax_survives_huge_logits_where_naive_softmax_is_nan():
    z = torch.tensor([[1000.0, 999.0, 998.0], [-1000.0, 0.0, 1000.0]])  # float32
    naive = z.exp() / z.exp().sum(-1, keepdim=True)
    assert torch.isnan(naive[0]).all()  # inf / inf
    out = stable_log_softmax(z)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, torch.log_softmax(z, dim=-1))
    torch.testing.assert_close(out[0], torch.log_softmax(torch.tensor([2.0, 1.0, 0.0]), dim=0))  # shift


def test_stable_log_softmax_gradient_equals_torch():
    z1, z2 = randn(4, 6).requires_grad_(), randn(4, 6).requires_grad_()
    w = randn(4, 6, seed=1)
    (stable_log_softmax(z1) * w).sum().backward()
    (torch.log_softmax(z2, dim=-1) * w).sum().backward()
    torch.testing.assert_close(z1.grad, z2.grad)


@pytest.mark.parametrize("eps", [0.0, 0.1, 1.0])
def test_cross_entropy_grad_equals_autograd(eps):
    logits = (randn(5, 7) * 3).requires_grad_()  # 5 rows, 7 classes: the mean divides by 5
    target = torch.tensor([0, 6, 3, 3, 1])
    F.cross_entropy(logits, target, label_smoothing=eps).backward()
    ours = cross_entropy_grad(logits.detach(), target, label_smoothing=eps)
    torch.testing.assert_close(ours, logits.grad)
    torch.testing.assert_close(ours.sum(-1), torch.zeros(5, dtype=torch.float64))  # rows sum to 0


def test_cross_entropy_grad_is_p_minus_onehot_and_default_has_no_smoothing():
    logits, target = randn(3, 4), torch.tensor([2, 0, 2])
    p, y = torch.softmax(logits, -1), F.one_hot(target, 4).double()
    torch.testing.assert_close(cross_entropy_grad(logits, target), (p - y) / 3)
    torch.testing.assert_close(cross_entropy_grad(logits, target), cross_entropy_grad(logits, target, 0.0))


def test_cross_entropy_grad_rejects_bad_smoothing():
    with pytest.raises(ValueError, match="label_smoothing"):
        cross_entropy_grad(torch.randn(2, 3), torch.zeros(2, dtype=torch.long), label_smoothing=-0.1)


# --- diffusion and distillation ---------------------------------------------------------------------------


def test_diffusion_loss_is_zero_for_the_oracle_and_mse_otherwise():
    x0, noise = randn(3, 2, 4), randn(3, 2, 4, seed=1)
    alphas_cumprod = torch.linspace(0.99, 0.05, 10, dtype=torch.float64)
    t = torch.tensor([0, 4, 9])
    ab = alphas_cumprod[t].reshape(-1, 1, 1)

    def oracle(x_t, t_):
        return (x_t - ab.sqrt() * x0) / (1 - ab).sqrt()

    torch.testing.assert_close(
        diffusion_epsilon_loss(oracle, x0, t, alphas_cumprod, noise), torch.tensor(0.0, dtype=torch.float64)
    )
    zero = diffusion_epsilon_loss(lambda x_t, t_: torch.zeros_like(x_t), x0, t, alphas_cumprod, noise)
    torch.testing.assert_close(zero, F.mse_loss(torch.zeros_like(noise), noise))


def test_diffusion_loss_bad_inputs_raise():
    x0, ac = torch.zeros(2, 3), torch.ones(5)
    with pytest.raises(ValueError, match=r"t must be in \[0, 5\)"):
        diffusion_epsilon_loss(lambda x, t: x, x0, torch.tensor([1, 5]), ac, x0)
    with pytest.raises(ValueError, match=r"t must be in \[0, 5\)"):
        diffusion_epsilon_loss(lambda x, t: x, x0, torch.tensor([-1, 0]), ac, x0)
    diffusion_epsilon_loss(lambda x, t: x, x0, torch.tensor([0, 4]), ac, x0)  # valid edges: t = 0 and T - 1


@settings(max_examples=25, deadline=None)
@given(seed=seeds, temperature=st.floats(0.5, 5.0))
def test_distillation_loss_matches_kl_div(seed, temperature):
    s, t = randn(4, 6, seed=seed), randn(4, 6, seed=seed + 1)
    expected = temperature**2 * F.kl_div(
        F.log_softmax(s / temperature, dim=1),
        F.log_softmax(t / temperature, dim=1),
        log_target=True,
        reduction="batchmean",
    )
    torch.testing.assert_close(distillation_loss(s, t, temperature), expected)
    torch.testing.assert_close(distillation_loss(t, t, temperature), torch.tensor(0.0, dtype=torch.float64))


def test_distillation_loss_bad_inputs_raise():
    with pytest.raises(ValueError, match="temperature"):
        distillation_loss(torch.randn(2, 3), torch.randn(2, 3), 0.0)


# --- SigLIP -----------------------------------------------------------------------------------------


def siglip_reference(img, txt, t_prime, b):
    """SigLIP paper, Algorithm 1, line by line (with t = exp(t'))."""
    n = img.shape[0]
    t = torch.exp(t_prime)
    zimg = img / img.norm(dim=1, keepdim=True)
    ztxt = txt / txt.norm(dim=1, keepdim=True)
    logits = zimg @ ztxt.T * t + b
    labels = 2 * torch.eye(n, dtype=img.dtype) - torch.ones(n, n, dtype=img.dtype)
    return -torch.sum(F.logsigmoid(labels * logits)) / n


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_siglip_loss_matches_paper_pseudocode(n):
    img, txt = randn(n, 6, seed=n), randn(n, 6, seed=100 + n) * 3.0  # text norms far from 1
    t_prime, b = torch.tensor(math.log(10.0), dtype=torch.float64), torch.tensor(-2.5, dtype=torch.float64)
    torch.testing.assert_close(
        siglip_loss(img, txt, t_prime.exp(), b), siglip_reference(img, txt, t_prime, b)
    )


def test_siglip_loss_by_hand_is_divided_by_n_not_n_squared():
    v = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    t = torch.tensor([[1.0, 1.0], [0.0, 1.0]], dtype=torch.float64)
    c = 1 / math.sqrt(2)
    cos = [[c, 0.0], [c, 1.0]]
    scale, bias = 3.0, -1.0

    def nll(x, z):  # -log sigmoid(z * x)
        return math.log1p(math.exp(-z * x))

    total = sum(nll(scale * cos[i][j] + bias, 1 if i == j else -1) for i in range(2) for j in range(2))
    torch.testing.assert_close(siglip_loss(v, t, scale, bias), torch.tensor(total / 2, dtype=torch.float64))


def test_siglip_bias_matters_and_labels_are_not_symmetric_in_sign():
    img, txt = randn(4, 5, seed=1), randn(4, 5, seed=2)
    assert siglip_loss(img, txt, 10.0, -10.0) != siglip_loss(img, txt, 10.0, 0.0)
    # Swapping images and texts transposes the logits; the diagonal labels make the loss symmetric.
    torch.testing.assert_close(siglip_loss(img, txt, 5.0, -1.0), siglip_loss(txt, img, 5.0, -1.0))


def test_siglip_gradients_reach_scale_and_bias():
    t_prime = torch.tensor(math.log(10.0), dtype=torch.float64, requires_grad=True)
    b = torch.tensor(-10.0, dtype=torch.float64, requires_grad=True)
    img, txt = randn(6, 4, seed=3).requires_grad_(), randn(6, 4, seed=4)
    siglip_loss(img, txt, t_prime.exp(), b).backward()
    assert t_prime.grad is not None and t_prime.grad.abs() > 0
    assert img.grad is not None and img.grad.abs().sum() > 0
    # dL/db = (sum_ij sigmoid(x_ij) - N) / N: each pair pushes b down by sigmoid(x), each positive up by 1.
    logits = contrastive_logits(img.detach(), txt, 10.0) - 10.0
    torch.testing.assert_close(b.grad, (torch.sigmoid(logits).sum() - 6) / 6)


@settings(max_examples=25, deadline=None)
@given(seed=seeds, n=st.integers(1, 13), data=st.data())
def test_siglip_chunked_equals_full_loss(seed, n, data):
    k = data.draw(st.integers(1, n))
    img, txt = randn(n, 5, seed=seed), randn(n, 5, seed=seed + 1)
    torch.testing.assert_close(
        siglip_loss_chunked(img, txt, 7.0, -3.0, k), siglip_loss(img, txt, 7.0, -3.0), rtol=1e-12, atol=1e-12
    )


def test_siglip_chunked_gradients_equal_full_and_chunk_range_is_checked():
    scale = torch.tensor(4.0, dtype=torch.float64, requires_grad=True)
    img, txt = randn(7, 3, seed=5), randn(7, 3, seed=6)
    (g_full,) = torch.autograd.grad(siglip_loss(img, txt, scale, 0.5), scale)
    (g_chunk,) = torch.autograd.grad(siglip_loss_chunked(img, txt, scale, 0.5, 3), scale)
    torch.testing.assert_close(g_chunk, g_full)
    siglip_loss_chunked(img, txt, 4.0, 0.5, 7)  # valid edge: one example per chunk
    with pytest.raises(ValueError, match=r"num_chunks must be in \[1, 7\]"):
        siglip_loss_chunked(img, txt, 4.0, 0.5, 8)
    with pytest.raises(ValueError, match=r"num_chunks must be in \[1, 7\]"):
        siglip_loss_chunked(img, txt, 4.0, 0.5, 0)


def test_siglip_rejects_non_positive_scale_and_mismatched_batches():
    with pytest.raises(ValueError, match="logit_scale"):
        siglip_loss(randn(3, 2), randn(3, 2), 0.0, -10.0)
    with pytest.raises(ValueError, match="batch sizes differ"):
        siglip_loss(randn(3, 2), randn(4, 2), 10.0, -10.0)


# --- valid edges and gradient blocking ---------------------------------------------------------------


def test_valid_edges_are_accepted():
    v, t = randn(2, 3), randn(2, 3, seed=1)
    assert torch.isfinite(clip_loss(v, t, 1e-3))  # any positive scale, also below 1
    assert torch.isfinite(info_nce(v, t, randn(1, 3, seed=2), 1e-3))  # K = 1 negative, small temperature
    assert sample_hard_negatives(randn(2, 2)).tolist() == [1, 0]  # N = 2: the only negative is forced
    queue = torch.arange(6.0).reshape(3, 2)
    torch.testing.assert_close(enqueue(queue, -queue), -queue)  # N = K: the whole queue is replaced
    assert torch.isfinite(huber_loss(v, t, delta=1e-3))


def test_enqueued_keys_carry_no_gradient():
    keys = randn(2, 3).requires_grad_()
    assert not enqueue(torch.zeros(4, 3, dtype=torch.float64), keys).requires_grad  # momentum keys: constants


def test_distillation_blocks_the_teacher_gradient():
    s, t = randn(3, 5).requires_grad_(), randn(3, 5, seed=1).requires_grad_()
    distillation_loss(s, t, 2.0).backward()
    assert t.grad is None and s.grad is not None


def test_stable_log_softmax_gradient_ignores_the_shift():
    z = (randn(2, 4) * 3).requires_grad_()
    stable_log_softmax(z)[:, 0].sum().backward()  # d log p_0 / dz = onehot(0) - p
    expected = F.one_hot(torch.zeros(2, dtype=torch.long), 4).double() - torch.softmax(z.detach(), -1)
    torch.testing.assert_close(z.grad, expected)


def test_defaults_match_torch():
    a, b = randn(3, 4) * 2, randn(3, 4, seed=1) * 2
    torch.testing.assert_close(huber_loss(a, b), F.huber_loss(a, b))  # delta = 1
    logits, target = randn(4, 5), torch.tensor([0, 4, -100, 2])
    torch.testing.assert_close(cross_entropy(logits, target), F.cross_entropy(logits, target))  # no smoothing
