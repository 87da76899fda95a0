"""ALiBi: fixed per-head slopes, a score penalty linear in the distance."""

import torch

from mllm_handbook.positional import alibi_bias, alibi_slopes

# 8 heads: the geometric sequence 2^(-8h/8) = 1/2, 1/4, ..., 1/256.
slopes = alibi_slopes(8)
assert torch.equal(slopes, 2.0 ** -torch.arange(1.0, 9.0))
print("slopes, 8 heads :", " ".join(f"1/{1 / s:.0f}" for s in slopes.tolist()))

# 12 heads (not a power of 2): the 8-head slopes, then every other slope of
# the 16-head sequence.
slopes_12 = alibi_slopes(12)
assert torch.equal(slopes_12[:8], slopes)
assert torch.equal(slopes_12[8:], alibi_slopes(16)[0::2][:4])
print("slopes, 12 heads:", " ".join(f"{s:.3f}" for s in slopes_12.tolist()))

# Head h adds -m_h * (i - j) to the score of query i on key j.
bias = alibi_bias(8, 6)
row = " ".join(f"{b + 0.0:.1f}" for b in bias[0, 5].tolist())
print(f"head 1, query 5, keys 0..5: {row}")
steps = bias[:, 5, :6].diff(dim=-1)  # one step closer to the query
assert torch.allclose(steps, slopes[:, None].expand(8, 5))  # linear
