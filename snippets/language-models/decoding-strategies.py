"""Temperature, top-k, top-p, the CTRL repetition penalty, greedy vs beam."""

import math

import torch

from mllm_handbook.decoding import (
    beam_search,
    contrastive_decoding_logits,
    greedy_decode,
    repetition_penalty,
    sample_next_token,
    temperature_softmax,
    top_p_filter,
)
from mllm_handbook.figures import new_figure, show

torch.manual_seed(0)
words = ["cat", "dog", "bird", "fish", "car", "tree", "sky", "the"]
z = torch.tensor([3.0, 2.2, 1.5, 1.0, 0.4, 0.0, -0.8, -1.5])

# 1. Temperature: T -> 0 is the argmax; sampling at T = 0 is greedy. Min-p
#    (keep p >= 0.1 * p_max) is VCD's plausibility cut-off with alpha = 0.
print("T    " + " ".join(f"{w:>5}" for w in words) + " | top-p 0.9 | min-p 0.1")
nucleus, min_p = {}, {}
for t in (0.5, 1.0, 2.0):
    probs = temperature_softmax(z, t)
    nucleus[t] = int(torch.isfinite(top_p_filter(z / t, 0.9)).sum())
    cut = contrastive_decoding_logits(z / t, z / t, alpha=0.0, beta=0.1)
    assert torch.equal(torch.isfinite(cut), probs >= 0.1 * probs.max())
    min_p[t] = int(torch.isfinite(cut).sum())
    row = " ".join(f"{x:5.3f}" for x in probs.tolist())
    print(f"{t:<4} {row} | {nucleus[t]:9d} | {min_p[t]:9d}")
assert list(nucleus.values()) == [2, 4, 6]  # hotter: wider nucleus
assert list(min_p.values()) == [2, 4, 8]
assert temperature_softmax(z, 0.01).max() > 0.999
assert sample_next_token(z, temperature=0.0) == z.argmax()

# 2. Top-k with k = 1 is greedy, whatever the random seed.
g = torch.Generator().manual_seed(1)
draws = [int(sample_next_token(z, top_k=1, generator=g)) for _ in range(50)]
assert set(draws) == {int(z.argmax())}
print("top-k=1, 50 draws:", sorted(set(words[i] for i in draws)))

# 3. Top-p keeps the smallest prefix (by probability) with mass >= p.
p = 0.9
sorted_probs = torch.softmax(z, -1).sort(descending=True).values
kept = int(torch.isfinite(top_p_filter(z, p)).sum())
mass = sorted_probs.cumsum(0)
print(f"top-p={p}: cumulative mass", [round(m, 3) for m in mass.tolist()])
print(f"  keeps {kept} tokens, mass {mass[kept - 1]:.3f}")
assert mass[kept - 1] >= p and mass[kept - 2] < p  # one token fewer: below p
assert kept == 4 and round(mass[kept - 1].item(), 3) == 0.92

# 4. CTRL repetition penalty: seen tokens with z > 0 are divided by 1.3,
#    with z < 0 multiplied; "cat" twice in the context is penalised once.
previous = torch.tensor([0, 0, 6])  # cat, cat, sky
penalised = repetition_penalty(z, previous, 1.3)
for i in (0, 1, 6):
    print(f"  {words[i]:>4}: {z[i]:+.2f} -> {penalised[i]:+.3f}")
assert math.isclose(penalised[0], 3.0 / 1.3, rel_tol=1e-6)
assert math.isclose(penalised[6], -0.8 * 1.3, rel_tol=1e-6)
assert penalised[1] == z[1]  # unseen: unchanged
assert torch.equal(repetition_penalty(z, previous, 1.0), z)  # identity


# 5. Greedy vs beam on a crafted 2-step model over tokens {A, B}.
def toy_model(table):
    """Next-token log-probs looked up by the generated suffix."""
    return lambda toks: torch.tensor(table[tuple(toks[1:])]).log()


beam_wins = toy_model({(): [0.6, 0.4], (0,): [0.5, 0.5], (1,): [0.05, 0.95]})
greedy_tokens, greedy_lp = greedy_decode(beam_wins, [9], 2)
beam_tokens, beam_lp = beam_search(beam_wins, [9], 2, beam_width=2)
greedy_text = "".join("AB"[t] for t in greedy_tokens[1:])
beam_text = "".join("AB"[t] for t in beam_tokens[1:])
print(f"greedy {greedy_text} p={math.exp(greedy_lp):.2f}")
print(f"beam=2 {beam_text} p={math.exp(beam_lp):.2f}")
assert beam_lp > greedy_lp
assert math.isclose(math.exp(greedy_lp), 0.6 * 0.5, rel_tol=1e-6)
assert math.isclose(math.exp(beam_lp), 0.4 * 0.95, rel_tol=1e-6)
width_one = beam_search(beam_wins, [9], 2, beam_width=1)
assert width_one == (greedy_tokens, greedy_lp)

# Beam search is still a heuristic: here the beam drops greedy's prefix A at
# step 2 (B-prefixes score 0.225 > 0.17) and ends lower than greedy.
beam_loses = toy_model(
    {
        (): [0.5, 0.45, 0.05],
        (0,): [0.34, 0.33, 0.33],
        (0, 0): [1.0, 0.0, 0.0],
        (1,): [0.5, 0.5, 0.0],
        (1, 0): [0.4, 0.3, 0.3],
        (1, 1): [0.4, 0.3, 0.3],
    }
)
_, greedy_lp3 = greedy_decode(beam_loses, [9], 3)
_, beam_lp3 = beam_search(beam_loses, [9], 3, beam_width=2)
print(
    f"second model, 3 steps: greedy p={math.exp(greedy_lp3):.3f}, "
    f"beam=2 p={math.exp(beam_lp3):.3f}"
)
assert beam_lp3 < greedy_lp3
assert math.isclose(math.exp(greedy_lp3), 0.5 * 0.34, rel_tol=1e-6)
assert math.isclose(math.exp(beam_lp3), 0.45 * 0.5 * 0.4, rel_tol=1e-6)

# 6. Figure: one distribution at three temperatures, top-p = 0.9 cut.
fig, axes = new_figure(7.2, 2.6, ncols=3)
for ax, t in zip(axes, (0.5, 1.0, 2.0), strict=True):
    probs = temperature_softmax(z, t)
    keep = torch.isfinite(top_p_filter(z / t, p)).tolist()
    colors = ["C0" if k else "C7" for k in keep]
    ax.bar(range(len(words)), probs.tolist(), color=colors)
    ax.set_title(f"T = {t}: nucleus keeps {sum(keep)}", fontsize=9)
    ax.set_ylim(0, 0.85)
    if ax is axes[0]:  # the other panels: the same words, the same scale
        ax.set_xticks(range(len(words)), words, rotation=90, fontsize=8)
    else:
        ax.set_xticks(range(len(words)), [])
        ax.set_yticks(axes[0].get_yticks(), [])
axes[0].set_ylabel("probability")
show(
    fig,
    alt="Next-token probabilities of eight words at temperatures 0.5, 1 and 2; "
    "the top-p 0.9 nucleus (blue) grows from 2 to 4 to 6 tokens as the "
    "temperature rises.",
)
