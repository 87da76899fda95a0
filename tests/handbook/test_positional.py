"""positional: each scheme against its paper's formula and the invariants the page relies on."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mllm_handbook.positional import (
    alibi_bias,
    alibi_slopes,
    apply_mrope,
    apply_mrope_interleaved,
    apply_rope,
    mrope_axis_ids,
    mrope_position_ids,
    ntk_scaled_base,
    rope_frequencies,
    sinusoidal_encoding,
    t5_relative_position_bucket,
    yarn_attention_factor,
    yarn_frequencies,
)

# ---------------------------------------------------------------- sinusoidal


def test_sinusoidal_matches_formula_elementwise():
    pe = sinusoidal_encoding(7, 6, base=100.0)
    for pos in range(7):
        for i in range(3):
            angle = pos / 100.0 ** (2 * i / 6)
            assert pe[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert pe[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)


def test_sinusoidal_default_base_is_10000():
    assert torch.equal(sinusoidal_encoding(50, 16), sinusoidal_encoding(50, 16, base=10000.0))
    torch.testing.assert_close(
        sinusoidal_encoding(50, 16)[49, 2], torch.tensor(math.sin(49 / 10000.0 ** (2 / 16)))
    )


def test_sinusoidal_position_zero_and_norm():
    pe = sinusoidal_encoding(50, 16)
    torch.testing.assert_close(pe[0], torch.tensor([0.0, 1.0] * 8))
    # each (sin, cos) pair has norm 1, so every row has norm sqrt(d / 2)
    torch.testing.assert_close(pe.norm(dim=-1), torch.full((50,), math.sqrt(8.0)))


def test_sinusoidal_dot_product_depends_only_on_offset():
    pe = sinusoidal_encoding(64, 32).double()
    gram = pe @ pe.T
    for offset in (1, 5, 20):
        diagonal = torch.diagonal(gram, offset)
        torch.testing.assert_close(diagonal, diagonal[:1].expand_as(diagonal), atol=1e-5, rtol=0)


def test_sinusoidal_shift_is_a_fixed_linear_map():
    """Vaswani et al.: PE[pos + k] is a linear function of PE[pos] (a rotation per channel pair)."""
    pe = sinusoidal_encoding(40, 8).double()
    k = 3
    solution = torch.linalg.lstsq(pe[:-k], pe[k:]).solution
    torch.testing.assert_close(pe[:-k] @ solution, pe[k:], atol=1e-6, rtol=0)


@pytest.mark.parametrize(("n", "d"), [(0, 8), (4, 7), (4, 0)])
def test_sinusoidal_bad_sizes_raise(n, d):
    with pytest.raises(ValueError, match="must be"):
        sinusoidal_encoding(n, d)


# ---------------------------------------------------------------- RoPE


def reference_rope(x, positions, base=10000.0):
    """Rotate-half RoPE written from the definition: channel i pairs with i + d/2, loop over pairs."""
    d = x.shape[-1]
    out = torch.empty_like(x)
    for i in range(d // 2):
        theta = positions.double() * base ** (-2 * i / d)
        cos, sin = theta.cos().to(x.dtype), theta.sin().to(x.dtype)
        a, b = x[..., i], x[..., i + d // 2]
        out[..., i] = a * cos - b * sin
        out[..., i + d // 2] = a * sin + b * cos
    return out


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), half=st.integers(1, 6), seq=st.integers(1, 6))
def test_rope_matches_reference(seed, half, seq):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 3, seq, 2 * half, generator=g, dtype=torch.float64)
    positions = torch.randint(0, 1000, (seq,), generator=g)
    torch.testing.assert_close(apply_rope(x, positions), reference_rope(x, positions))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), m=st.integers(0, 500), n=st.integers(0, 500), shift=st.integers(-200, 200))
def test_rope_score_depends_only_on_offset(seed, m, n, shift):
    g = torch.Generator().manual_seed(seed)
    q, k = (
        torch.randn(1, 16, generator=g, dtype=torch.float64),
        torch.randn(1, 16, generator=g, dtype=torch.float64),
    )
    m2, n2 = m + shift + 200, n + shift + 200  # keep positions non-negative
    score = (apply_rope(q, torch.tensor([m])) * apply_rope(k, torch.tensor([n]))).sum()
    shifted = (apply_rope(q, torch.tensor([m2])) * apply_rope(k, torch.tensor([n2]))).sum()
    torch.testing.assert_close(score, shifted)


def test_rope_is_a_rotation_and_identity_at_zero():
    x = torch.randn(4, 10, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    out = apply_rope(x, torch.arange(10))
    torch.testing.assert_close(out.norm(dim=-1), x.norm(dim=-1))
    torch.testing.assert_close(out[:, 0], x[:, 0])


def test_rope_keeps_dtype():
    x = torch.randn(3, 4, dtype=torch.float32)
    assert apply_rope(x, torch.arange(3)).dtype == torch.float32


def test_rope_odd_dim_raises():
    with pytest.raises(ValueError, match="last dim must be even"):
        apply_rope(torch.randn(2, 5, 7), torch.arange(5))


def test_rope_position_length_mismatch_raises():
    with pytest.raises(ValueError, match="positions must have 5 entries"):
        apply_rope(torch.randn(2, 5, 8), torch.arange(4))


# ---------------------------------------------------------------- ALiBi


def test_alibi_slopes_power_of_two():
    torch.testing.assert_close(alibi_slopes(8), torch.tensor([2.0**-k for k in range(1, 9)]))
    torch.testing.assert_close(alibi_slopes(4), torch.tensor([2.0**-2, 2.0**-4, 2.0**-6, 2.0**-8]))
    torch.testing.assert_close(alibi_slopes(1), torch.tensor([2.0**-8]))


def test_alibi_slopes_non_power_of_two_follow_paper_and_bloom():
    # 12 heads: the 8 slopes for 8 heads, then every other slope of the 16-head sequence 2^(-k/2)
    expected = [2.0**-k for k in range(1, 9)] + [2.0**-0.5, 2.0**-1.5, 2.0**-2.5, 2.0**-3.5]
    torch.testing.assert_close(alibi_slopes(12), torch.tensor(expected))
    # 6 heads: 4-head slopes, then 2^(-1), 2^(-3) from the 8-head sequence
    expected6 = [2.0**-2, 2.0**-4, 2.0**-6, 2.0**-8, 2.0**-1, 2.0**-3]
    torch.testing.assert_close(alibi_slopes(6), torch.tensor(expected6))


@pytest.mark.parametrize("heads", [1, 3, 5, 8, 12, 16, 20, 32])
def test_alibi_slopes_match_bloom_closed_form(heads):
    """BLOOM's build_alibi_tensor, written as its closed form: base^k and extra_base^(2k-1)."""
    p = 2 ** math.floor(math.log2(heads))
    base = 2 ** (-(2 ** -(math.log2(p) - 3)))
    extra_base = 2 ** (-(2 ** -(math.log2(2 * p) - 3)))
    expected = [base**k for k in range(1, p + 1)] + [extra_base**k for k in range(1, 2 * (heads - p), 2)]
    torch.testing.assert_close(alibi_slopes(heads), torch.tensor(expected, dtype=torch.float32))


def test_alibi_bias_linear_in_distance_and_causal():
    bias = alibi_bias(4, 6)
    slopes = alibi_slopes(4)
    assert bias.shape == (4, 6, 6)
    for h in range(4):
        for i in range(6):
            for j in range(6):
                if j <= i:
                    assert bias[h, i, j].item() == pytest.approx(-slopes[h].item() * (i - j))
                else:
                    assert bias[h, i, j].item() == float("-inf")


def test_alibi_bias_is_translation_invariant():
    bias = alibi_bias(2, 9)
    torch.testing.assert_close(bias[:, 1:, 1:], bias[:, :-1, :-1])


def test_alibi_bad_sizes_raise():
    with pytest.raises(ValueError, match="num_heads must be >= 1"):
        alibi_slopes(0)
    with pytest.raises(ValueError, match="seq_len must be >= 1"):
        alibi_bias(4, 0)


# ---------------------------------------------------------------- T5 buckets


def test_t5_bidirectional_hand_values():
    rel = torch.tensor([0, -1, -7, -8, -12, -16, -32, -64, -127, -128, -1000, 1, 7, 8, 16, 1000])
    # negative offsets use buckets 0..15; positive offsets are shifted by 16.
    # beyond 8 (= 32 / 2 / 2): bucket = 8 + floor(2 * log2(distance / 8)), clipped at 15.
    expected = [0, 1, 7, 8, 9, 10, 12, 14, 15, 15, 15, 17, 23, 24, 26, 31]
    assert t5_relative_position_bucket(rel).tolist() == expected


def test_t5_unidirectional_hand_values():
    rel = torch.tensor([5, 1, 0, -1, -15, -16, -23, -32, -64, -128, -500])
    # future offsets collapse to bucket 0; exact below 16, then 16 + floor(16 * log2(d / 16) / 3)
    expected = [0, 0, 0, 1, 15, 16, 18, 21, 26, 31, 31]
    out = t5_relative_position_bucket(rel, bidirectional=False)
    assert out.tolist() == expected


@pytest.mark.parametrize("bidirectional", [True, False])
def test_t5_buckets_exact_then_log_spaced_monotone_clipped(bidirectional):
    distances = torch.arange(0, 400)
    buckets = t5_relative_position_bucket(-distances, bidirectional=bidirectional)
    per_side = 16 if bidirectional else 32
    exact = per_side // 2
    assert buckets[:exact].tolist() == list(range(exact))  # one bucket per distance
    assert (buckets.diff() >= 0).all()  # monotone in distance
    assert (buckets[128:] == per_side - 1).all()  # clipped from max_distance on
    # log spacing: bucket widths grow with distance
    widths = torch.bincount(buckets, minlength=per_side)[exact:-1]
    assert (widths.diff() >= -1).all() and widths[-1] > widths[0]


def test_t5_signs_use_separate_halves_when_bidirectional():
    rel = torch.arange(-50, 51)
    buckets = t5_relative_position_bucket(rel)
    assert (buckets[rel < 0] < 16).all() and (buckets[rel > 0] >= 16).all()
    assert buckets[rel == 0].item() == 0


def test_t5_bad_input_raises():
    with pytest.raises(ValueError, match="integer tensor"):
        t5_relative_position_bucket(torch.tensor([1.5]))
    with pytest.raises(ValueError, match="num_buckets too small"):
        t5_relative_position_bucket(torch.tensor([1]), num_buckets=2)
    with pytest.raises(ValueError, match="max_distance must exceed"):
        t5_relative_position_bucket(torch.tensor([1]), max_distance=4)


# ---------------------------------------------------------------- RoPE frequencies and context extension


def test_rope_frequencies_match_definition():
    theta = rope_frequencies(10, base=500.0)
    expected = torch.tensor([500.0 ** (-2 * i / 10) for i in range(5)], dtype=torch.float64)
    torch.testing.assert_close(theta, expected)
    assert theta[0].item() == 1.0
    torch.testing.assert_close(rope_frequencies(8), rope_frequencies(8, base=10000.0))  # default base


@pytest.mark.parametrize("dim", [0, 7])
def test_rope_frequencies_bad_dim_raises(dim):
    with pytest.raises(ValueError, match="positive even"):
        rope_frequencies(dim)


def test_apply_rope_default_frequencies_and_inv_freq_argument():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 7, 12, generator=g, dtype=torch.float64)
    positions = torch.arange(7) * 3 + 5
    torch.testing.assert_close(
        apply_rope(x, positions, base=300.0), apply_rope(x, positions, inv_freq=rope_frequencies(12, 300.0))
    )
    # position interpolation two ways: divide the positions by s, or every frequency by s
    s = 4.0
    by_position = apply_rope(x, positions / s)
    by_frequency = apply_rope(x, positions, inv_freq=rope_frequencies(12) / s)
    torch.testing.assert_close(by_position, by_frequency)


def test_ntk_scaled_base_formula_and_endpoints():
    b, s, d = 10000.0, 8.0, 128
    new_base = ntk_scaled_base(b, s, d)
    assert new_base == pytest.approx(b * s ** (d / (d - 2)), rel=1e-12)
    theta, scaled = rope_frequencies(d, b), rope_frequencies(d, new_base)
    assert scaled[0].item() == 1.0  # the highest frequency is kept
    assert scaled[-1].item() == pytest.approx(theta[-1].item() / s, rel=1e-12)  # the lowest is divided by s
    ratio = scaled / theta  # s^(-2i / (d - 2)): decreasing from 1 to 1/s
    assert (ratio.diff() < 0).all()
    assert ntk_scaled_base(b, 1.0, d) == b
    assert ntk_scaled_base(500.0, 2.0, 4) == pytest.approx(500.0 * 4.0)  # smallest valid dim: s^(4/2)


@pytest.mark.parametrize(
    ("scale", "dim", "match"), [(2.0, 2, "even and >= 4"), (2.0, 9, "even"), (0.0, 8, "> 0")]
)
def test_ntk_scaled_base_bad_arguments_raise(scale, dim, match):
    with pytest.raises(ValueError, match=match):
        ntk_scaled_base(10000.0, scale, dim)


def reference_yarn(dim, base, scale, length, alpha, beta):
    """NTK-by-parts written from the YaRN paper, one pair at a time."""
    out = []
    for i in range(dim // 2):
        theta = base ** (-2 * i / dim)
        r = length / (2 * math.pi / theta)
        gamma = 0.0 if r < alpha else 1.0 if r > beta else (r - alpha) / (beta - alpha)
        out.append((1 - gamma) * theta / scale + gamma * theta)
    return torch.tensor(out, dtype=torch.float64)


@pytest.mark.parametrize(
    ("dim", "base", "scale", "length", "alpha", "beta"),
    [
        (128, 10000.0, 8.0, 4096, 1.0, 32.0),
        (64, 500000.0, 4.0, 8192, 1.0, 4.0),
        (22, 1000.0, 3.0, 500, 0.5, 7.0),
    ],
)
def test_yarn_frequencies_match_paper(dim, base, scale, length, alpha, beta):
    out = yarn_frequencies(dim, base, scale, length, alpha=alpha, beta=beta)
    torch.testing.assert_close(out, reference_yarn(dim, base, scale, length, alpha, beta))


def test_yarn_frequencies_by_parts_defaults_and_identity():
    d, b, s, L = 128, 10000.0, 8.0, 4096
    theta, out = rope_frequencies(d, b), yarn_frequencies(d, b, s, L)
    turns = L * theta / (2 * math.pi)
    torch.testing.assert_close(out[turns < 1], theta[turns < 1] / s)  # never a full turn: interpolate
    torch.testing.assert_close(out[turns > 32], theta[turns > 32])  # many turns: keep
    torch.testing.assert_close(out, yarn_frequencies(d, b, s, L, alpha=1.0, beta=32.0))  # defaults
    torch.testing.assert_close(yarn_frequencies(d, b, 1.0, L), theta)  # s = 1 changes nothing


def test_yarn_beta_4_is_llama31_scaling():
    """Meta's Llama 3.1 apply_scaling (factor 8, low 1, high 4, 8192), written with wavelengths."""
    theta = rope_frequencies(128, 500000.0)
    expected = []
    for freq in theta.tolist():
        wavelen = 2 * math.pi / freq
        if wavelen < 8192 / 4:
            expected.append(freq)
        elif wavelen > 8192 / 1:
            expected.append(freq / 8)
        else:
            smooth = (8192 / wavelen - 1) / (4 - 1)
            expected.append((1 - smooth) * freq / 8 + smooth * freq)
    out = yarn_frequencies(128, 500000.0, 8.0, 8192, alpha=1.0, beta=4.0)
    torch.testing.assert_close(out, torch.tensor(expected, dtype=torch.float64))


def test_yarn_bad_arguments_raise_and_edges_pass():
    with pytest.raises(ValueError, match="scale must be >= 1"):
        yarn_frequencies(8, 10000.0, 0.5, 100)
    with pytest.raises(ValueError, match="alpha < beta"):
        yarn_frequencies(8, 10000.0, 2.0, 100, alpha=4.0, beta=4.0)
    with pytest.raises(ValueError, match="alpha < beta"):
        yarn_frequencies(8, 10000.0, 2.0, 100, alpha=-1.0)
    assert yarn_frequencies(8, 10000.0, 2.0, 100, alpha=0.0, beta=0.5).shape == (4,)


def test_yarn_attention_factor():
    assert yarn_attention_factor(8.0) == pytest.approx(0.1 * math.log(8.0) + 1)
    assert yarn_attention_factor(1.0) == 1.0
    with pytest.raises(ValueError, match="scale must be >= 1"):
        yarn_attention_factor(0.9)


# ---------------------------------------------------------------- M-RoPE


def test_mrope_axis_ids_contiguous():
    ids = mrope_axis_ids([16, 24, 24])
    assert ids.tolist() == [0] * 16 + [1] * 24 + [2] * 24
    torch.testing.assert_close(ids, mrope_axis_ids([16, 24, 24], interleaved=False))  # default layout


def reference_interleaved(sections):
    """Transformers' Qwen3-VL apply_interleaved_mrope: start from T, overwrite H at 1::3 and W at 2::3."""
    owner = [0] * sum(sections)
    for axis, offset in ((1, 1), (2, 2)):
        for j in range(offset, 3 * sections[axis], 3):
            owner[j] = axis
    return owner


@pytest.mark.parametrize("sections", [[24, 20, 20], [11, 11, 10], [2, 1, 1], [5, 2, 3]])
def test_mrope_axis_ids_interleaved(sections):
    ids = mrope_axis_ids(sections, interleaved=True)
    assert ids.tolist() == reference_interleaved(sections)
    assert torch.bincount(ids, minlength=3).tolist() == sections


def test_mrope_axis_ids_bad_sections_raise():
    with pytest.raises(ValueError, match="3 counts"):
        mrope_axis_ids([32, 32])
    with pytest.raises(ValueError, match="3 counts"):
        mrope_axis_ids([20, -2, 46])
    with pytest.raises(ValueError, match="too many h or w pairs"):
        mrope_axis_ids([10, 12, 10], interleaved=True)  # the last H pair would be pair 34 of 32
    with pytest.raises(ValueError, match="too many h or w pairs"):
        mrope_axis_ids([10, 11, 11], interleaved=True)  # the last W pair would be pair 32 of 32
    assert mrope_axis_ids([11, 11, 10], interleaved=True)[-3:].tolist() == [
        2,
        0,
        1,
    ]  # H uses pair 31: valid edge
    assert mrope_axis_ids([1, 1, 1], interleaved=True).tolist() == [0, 1, 2]


def reference_mrope(x, positions, sections, base=10000.0, interleaved=False):
    """Qwen2-VL as in Transformers: cos/sin per axis, split by sections * 2, take chunk i from axis i % 3."""
    dim = x.shape[-1]
    theta = base ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    freqs = positions.double()[:, :, None] * theta  # [3, seq, dim / 2]
    if interleaved:
        owner = torch.tensor(reference_interleaved(sections))
        freqs = freqs.gather(0, owner.expand(1, freqs.shape[1], -1)).squeeze(0)
        emb = torch.cat([freqs, freqs], dim=-1)
        cos, sin = emb.cos(), emb.sin()
    else:
        emb = torch.cat([freqs, freqs], dim=-1)  # [3, seq, dim]
        chunks = list(sections) * 2
        cos = torch.cat([m[i % 3] for i, m in enumerate(emb.cos().split(chunks, dim=-1))], dim=-1)
        sin = torch.cat([m[i % 3] for i, m in enumerate(emb.sin().split(chunks, dim=-1))], dim=-1)
    half = dim // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos.to(x.dtype) + rotated * sin.to(x.dtype)


@pytest.mark.parametrize(("sections", "seq"), [([16, 24, 24], 9), ([2, 3, 1], 5), ([0, 4, 2], 3)])
def test_apply_mrope_matches_transformers_reference(sections, seq):
    g = torch.Generator().manual_seed(2)
    dim = 2 * sum(sections)
    x = torch.randn(2, 3, seq, dim, generator=g, dtype=torch.float64)
    positions = torch.randint(0, 50, (3, seq), generator=g)
    torch.testing.assert_close(apply_mrope(x, positions, sections), reference_mrope(x, positions, sections))
    torch.testing.assert_close(
        apply_mrope(x, positions, sections), apply_mrope(x, positions, sections, base=10000.0)
    )  # default base


@pytest.mark.parametrize("sections", [[24, 20, 20], [2, 1, 1]])
def test_apply_mrope_interleaved_matches_transformers_reference(sections):
    g = torch.Generator().manual_seed(3)
    dim = 2 * sum(sections)
    x = torch.randn(2, 7, dim, generator=g, dtype=torch.float64)
    positions = torch.randint(0, 50, (3, 7), generator=g)
    out = apply_mrope_interleaved(x, positions, sections, base=1000.0)
    torch.testing.assert_close(out, reference_mrope(x, positions, sections, base=1000.0, interleaved=True))
    torch.testing.assert_close(
        apply_mrope_interleaved(x, positions, sections),
        reference_mrope(x, positions, sections, interleaved=True),
    )


@pytest.mark.parametrize("fn", [apply_mrope, apply_mrope_interleaved])
def test_mrope_on_text_equals_1d_rope(fn):
    g = torch.Generator().manual_seed(4)
    x = torch.randn(2, 4, 11, 128, generator=g, dtype=torch.float64)
    text = torch.arange(11) + 7
    out = fn(x, text.expand(3, -1), [24, 20, 20], base=1e6)
    torch.testing.assert_close(out, apply_rope(x, text, base=1e6))


def test_mrope_image_scores_depend_only_on_row_and_column_offsets():
    g = torch.Generator().manual_seed(5)
    q, k = (
        torch.randn(1, 32, generator=g, dtype=torch.float64),
        torch.randn(1, 32, generator=g, dtype=torch.float64),
    )

    def score(pq, pk):
        qr = apply_mrope(q, torch.tensor(pq)[:, None], [4, 6, 6])
        kr = apply_mrope(k, torch.tensor(pk)[:, None], [4, 6, 6])
        return (qr * kr).sum()

    base = score([3, 5, 2], [3, 7, 9])
    torch.testing.assert_close(score([3 + 11, 5 - 4, 2 + 30], [3 + 11, 7 - 4, 9 + 30]), base)  # shift all
    assert not torch.isclose(score([3, 5, 2], [3, 9, 7]), base)  # swap the offsets: a different score


def test_mrope_bad_inputs_raise():
    x = torch.randn(5, 16)
    with pytest.raises(ValueError, match="sum to dim / 2 = 8"):
        apply_mrope(x, torch.zeros(3, 5, dtype=torch.long), [2, 3, 2])
    with pytest.raises(ValueError, match=r"positions must be \[3, seq\]"):
        apply_mrope(x, torch.zeros(2, 5, dtype=torch.long), [2, 3, 3])


def test_mrope_position_ids_transformers_docstring_example():
    """A 3 x 2 x 2 video then 5 text tokens: the example in Transformers' get_rope_index."""
    ids = mrope_position_ids([(3, 2, 2), 5])
    assert ids[0].tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 4, 5, 6, 7]
    assert ids[1].tolist() == [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 3, 4, 5, 6, 7]
    assert ids[2].tolist() == [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 3, 4, 5, 6, 7]


def test_mrope_position_ids_text_image_text():
    ids = mrope_position_ids([2, (1, 2, 3), 0, 2])
    assert ids.tolist() == [
        [0, 1, 2, 2, 2, 2, 2, 2, 5, 6],
        [0, 1, 2, 2, 2, 3, 3, 3, 5, 6],
        [0, 1, 2, 3, 4, 2, 3, 4, 5, 6],
    ]
    assert mrope_position_ids([4]).tolist() == [list(range(4))] * 3


def test_mrope_position_ids_bad_grid_raises():
    with pytest.raises(ValueError, match=r"\(T, H, W\) >= 1"):
        mrope_position_ids([3, (1, 0, 2)])


# ---------------------------------------------------------------- valid edges and batched positions


def test_smallest_valid_sizes():
    torch.testing.assert_close(sinusoidal_encoding(1, 2), torch.tensor([[0.0, 1.0]]))  # one position, d = 2
    torch.testing.assert_close(rope_frequencies(2), torch.tensor([1.0], dtype=torch.float64))
    torch.testing.assert_close(alibi_bias(3, 1), torch.zeros(3, 1, 1))  # one token: distance 0
    # bidirectional with 4 buckets: 2 per side, only distance 0 exact; max_distance just above it
    rel = torch.tensor([0, -1, -5, 1, 5])
    assert t5_relative_position_bucket(rel, num_buckets=4, max_distance=2).tolist() == [0, 1, 1, 3, 3]


def test_t5_max_distance_must_exceed_the_exact_range():
    with pytest.raises(ValueError, match="max_distance must exceed 8"):
        t5_relative_position_bucket(torch.tensor([1]), max_distance=8)  # the edge itself is invalid
    assert t5_relative_position_bucket(torch.tensor([-8, -9]), max_distance=9).tolist() == [8, 15]


def test_rope_positions_per_sequence():
    # positions [batch, seq]: each sequence rotated by its own positions (e.g. left padding)
    g = torch.Generator().manual_seed(6)
    x = torch.randn(2, 5, 8, generator=g, dtype=torch.float64)
    positions = torch.tensor([[0, 1, 2, 3, 4], [7, 3, 0, 2, 9]])
    out = apply_rope(x, positions)
    for b in range(2):
        torch.testing.assert_close(out[b], reference_rope(x[b], positions[b]))


@pytest.mark.parametrize("sections", [[3, 4, 3], [4, 3, 4]])
def test_mrope_interleave_edges_raise(sections):
    # [3, 4, 3]: the 4th H pair would be pair 10 of 10; [4, 3, 4]: the 4th W pair would be pair 11 of 11
    with pytest.raises(ValueError, match="too many h or w pairs"):
        mrope_axis_ids(sections, interleaved=True)
