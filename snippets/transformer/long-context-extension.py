"""RoPE wavelengths, and what PI, NTK-aware scaling and YaRN do to them."""

import math

import torch

from mllm_handbook.figures import new_figure, show
from mllm_handbook.positional import (
    apply_rope,
    ntk_scaled_base,
    rope_frequencies,
    yarn_attention_factor,
    yarn_frequencies,
)

torch.manual_seed(0)
d, b, L, s = 128, 10000.0, 4096, 8  # head dim, base, trained length, scale
theta = rope_frequencies(d, b)
wavelength = 2 * math.pi / theta

# 1. Pairs with a wavelength longer than L never make a full turn in training.
print("pair | wavelength (tokens) | turns in 4096 tokens")
for i in (0, 16, 32, 45, 46, 63):
    print(f"{i:>4} | {wavelength[i]:>19.1f} | {L / wavelength[i]:>20.2f}")
assert round(L / wavelength[0].item()) == 652  # pair 0: ~652 turns
assert round(wavelength[-1].item()) == 54410  # last pair: 0.08 turns
assert round(L / wavelength[-1].item(), 2) == 0.08
never = wavelength > L
assert never.sum() == 18 and never[46:].all() and not never[:46].any()
wavelength3 = 2 * math.pi / rope_frequencies(d, 500000.0)  # LLaMA 3's base
assert (wavelength3 > L).sum() == 32  # same L: a larger base, more pairs
never3 = wavelength3 > 8192  # LLaMA 3 trains at 8192
assert never3.sum() == 29
print(
    f"pairs that never turn once: {never.sum()}/64 (b=1e4, L=4096), "
    f"{(wavelength3 > L).sum()}/64 (b=5e5, L=4096), "
    f"{never3.sum()}/64 (b=5e5, L=8192)"
)

# 2. Frequencies of each scheme for a window s = 8 times longer (32768).
new_base = ntk_scaled_base(b, s, d)
schemes = {
    "extrapolation": theta,
    "PI": theta / s,
    "NTK-aware": rope_frequencies(d, new_base),
    "YaRN": yarn_frequencies(d, b, s, L),
}
print(f"NTK-aware base b' = {new_base:.0f}")
print("scheme        | unseen-angle pairs | max new/trained | pair-0 rad/token")
unseen, worst = {}, {}
for name, freq in schemes.items():
    ratio = (s * L * freq) / (L * theta)  # largest angle, new over trained
    unseen[name] = int((ratio[never] > 1 + 1e-9).sum())
    worst[name] = ratio[never].max().item()
    print(
        f"{name:<13} | {unseen[name]:>18} | {worst[name]:>15.2f} | "
        f"{freq[0]:>16.3f}"
    )
assert unseen == {"extrapolation": 18, "PI": 0, "NTK-aware": 17, "YaRN": 0}
assert round(new_base) == 82685
assert round(worst["extrapolation"], 2) == 8.0
assert round(worst["NTK-aware"], 2) == 1.75
assert schemes["PI"][0] == 0.125  # PI also slows the fastest pair 8x
ntk = schemes["NTK-aware"]
assert ntk[0] == theta[0] and torch.isclose(ntk[-1], theta[-1] / s)
yarn, turns = schemes["YaRN"], L / wavelength
assert torch.equal(yarn[turns > 32], theta[turns > 32])  # 21 pairs kept
assert torch.allclose(yarn[turns < 1], theta[turns < 1] / s)  # 18 divided
assert (turns > 32).sum() == 21

# 3. PI through apply_rope: divide the positions, or every frequency, by s.
x = torch.randn(2, 5, d, dtype=torch.float64)
pos = torch.tensor([0, 1000, 9000, 20000, 32767])
pi_pos = apply_rope(x, pos / s)
assert torch.allclose(pi_pos, apply_rope(x, pos, inv_freq=theta / s))

# 4. YaRN's temperature: q and k are each scaled by sqrt(1/t) = 0.1 ln s + 1.
m = yarn_attention_factor(s)
print(f"YaRN sqrt(1/t) = {m:.3f}, logits x {m * m:.3f}")
assert round(m, 3) == 1.208 and round(m * m, 3) == 1.459

# 5. Llama 3.1's rope_scaling (factor 8, low 1, high 4, from 8192 tokens)
#    is YaRN's by-parts rule with alpha = 1, beta = 4 and no temperature.
llama = yarn_frequencies(d, 500000.0, 8, 8192, alpha=1.0, beta=4.0)
theta3 = rope_frequencies(d, 500000.0)
kept = int((llama == theta3).sum())
divided = int(torch.isclose(llama, theta3 / 8).sum())
print(
    f"Llama 3.1: {kept} pairs kept, {divided} divided by 8, "
    f"{64 - kept - divided} blended"
)
assert (kept, divided, 64 - kept - divided) == (29, 29, 6)

fig, ax = new_figure(6.4, 3.0)
pairs = torch.arange(d // 2)
ax.plot(
    pairs,
    torch.log10(L * theta / (2 * math.pi)),
    color="C7",
    alpha=0.35,
    linewidth=5,
    label="trained: positions < 4096",
)
for name, freq in schemes.items():
    turns_new = torch.log10(s * L * freq / (2 * math.pi))
    ax.plot(pairs, turns_new, label=f"{name} at 32768")
ax.axhline(0.0, color="gray", linestyle=":", linewidth=1)
ax.set_xlabel("frequency pair i (0 = fastest)")
ax.set_ylabel("log10 of largest angle / 2π")
ax.legend(frameon=False, fontsize=8)
show(
    fig,
    alt="Log10 of the largest rotation angle, in turns, per frequency pair "
    "for positions up to 32768: extrapolation exceeds the trained range on "
    "every pair, PI matches it everywhere, NTK-aware keeps the fastest pair "
    "and meets the trained curve at the slowest, YaRN keeps the fast pairs "
    "and matches the trained curve on the slow ones.",
)
