"""GRPO: group advantages, the k3 KL, loss variants and a toy RLVR run."""

import math

import torch

from mllm_handbook.preference import (
    clipped_surrogate,
    grpo_advantages,
    grpo_loss,
    gspo_sequence_ratio,
    kl_k3,
)

torch.manual_seed(0)

# 1. Group-normalised advantages: 3 prompts, G = 4 answers each, reward 0/1.
rewards = torch.tensor([1.0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1])
adv = grpo_advantages(rewards, group_size=4)
groups = rewards.view(3, 4)
centred = groups - groups.mean(dim=1, keepdim=True)  # Dr. GRPO stops here
reference = centred / (groups.std(dim=1, keepdim=True) + 1e-4)
assert torch.allclose(adv, reference.flatten())
assert torch.allclose(adv.view(3, 4).mean(dim=1), torch.zeros(3), atol=1e-6)
assert (adv[8:] == 0).all()  # all four right: no signal at all
assert [round(a, 3) for a in adv[:6].tolist()] == [
    1.5,
    -0.5,
    -0.5,
    -0.5,
    0.866,
    0.866,
]
print("right | GRPO: right wrong | Dr. GRPO: right wrong")
for g, k in enumerate((1, 2, 0)):  # first answer right; k: a wrong one
    a, d = adv.view(3, 4)[g], centred[g]
    wrong = f"{a[k]:>6.3f}" if k else "     -"
    wrong_dr = f"{d[k]:>6.3f}" if k else "     -"
    print(
        f"{int(groups[g].sum())} of 4 | {a[0]:>11.3f} {wrong}"
        f" | {d[0]:>15.3f} {wrong_dr}"
    )

# ... and a group of equal rewards gets exactly zero policy gradient; with
# beta > 0 only the KL term still pulls its answers toward the reference.
logp = torch.full((12, 5), -1.0, requires_grad=True)  # 12 answers, 5 tokens
ref = torch.full((12, 5), -1.5)  # a reference that differs from the policy
mask = torch.ones(12, 5, dtype=torch.bool)
grpo_loss(logp, logp.detach(), ref, adv, mask, beta=0.0).backward()
assert (logp.grad[8:] == 0).all() and (logp.grad[:8] != 0).all()
logp.grad = None
grpo_loss(logp, logp.detach(), ref, adv, mask).backward()  # beta = 0.04
assert (logp.grad[8:] != 0).all()

# 2. The k3 estimator r - 1 - log r, r = pi_ref / pi, on a toy distribution.
pi = torch.softmax(torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0]), dim=0)
pi_ref = torch.softmax(torch.tensor([1.5, 1.2, 0.0, 0.3, -0.5]), dim=0)
exact = (pi * (pi / pi_ref).log()).sum().item()
tokens = torch.multinomial(pi, 200_000, replacement=True)  # sampled from pi
k1 = pi.log()[tokens] - pi_ref.log()[tokens]  # the naive estimator
k3 = kl_k3(pi.log()[tokens], pi_ref.log()[tokens])
print(f"exact KL {exact:.4f} | k1 mean {k1.mean():.4f} var {k1.var():.4f}")
print(f"{'':15}| k3 mean {k3.mean():.4f} var {k3.var():.4f}")
assert k3.min() >= 0 and k1.min() < 0  # k3 is never negative, k1 can be
assert abs(k3.mean().item() - exact) < 0.005  # unbiased
assert k3.var() * 40 < k1.var()  # and here a far lower variance
assert round(exact, 4) == round(k3.mean().item(), 4) == 0.0673
assert (
    round(k3.var().item(), 4) == 0.0028 and round(k1.var().item(), 3) == 0.124
)

# 3. Aggregation: a short (3 tokens) and a long (12 tokens) answer.
mask = torch.zeros(2, 12, dtype=torch.bool)
mask[0, :3], mask[1, :] = True, True
print("aggregation  adv | weight of each token: short   long")
for name, token_level in [("GRPO, seq.", False), ("DAPO, token", True)]:
    for a in (1.0, -1.0):
        logp = torch.zeros(2, 12, requires_grad=True)
        adv2 = torch.tensor([a, a])
        loss = grpo_loss(
            logp,
            logp.detach(),
            logp.detach(),
            adv2,
            mask,
            beta=0.0,
            token_level=token_level,
        )
        (grad,) = torch.autograd.grad(loss, logp)
        short, long = -grad[0, 0].item() / a, -grad[1, 0].item() / a
        print(f"{name:<12} {a:+.0f}  | {short:>26.4f} {long:>6.4f}")
        if token_level:
            assert math.isclose(short, 1 / 15, rel_tol=1e-6) and long == short
        else:
            assert math.isclose(short, 1 / 6, rel_tol=1e-6) and math.isclose(
                long, 1 / 24, rel_tol=1e-6
            )

# 4. Clip-higher: how far can one update raise a token's probability (A > 0)?
for p_old in (0.01, 0.5):
    sym, high = p_old * 1.2, p_old * 1.28
    print(f"p_old {p_old:<4}: max p_new {sym:.4f} (eps 0.2), {high:.4f} (0.28)")
ratio = torch.tensor([1.25, 1.25], requires_grad=True)
objective = torch.stack(
    [
        clipped_surrogate(ratio[0], torch.tensor(1.0), 0.2, 0.2),
        clipped_surrogate(ratio[1], torch.tensor(1.0), 0.2, 0.28),
    ]
)
(grad,) = torch.autograd.grad(objective.sum(), ratio)
assert grad.tolist() == [0.0, 1.0]  # at r = 1.25 only clip-higher still pushes

# 5. GSPO: one ratio per answer, the geometric mean of its token ratios.
token_ratio = torch.tensor([[1.3, 0.8, 1.05, 0.95, 2.0]])
seq = gspo_sequence_ratio(
    token_ratio.log(), torch.zeros(1, 5), torch.ones(1, 5, dtype=torch.bool)
)
assert torch.isclose(seq, token_ratio.prod() ** (1 / 5))
clipped = (token_ratio - token_ratio.clamp(0.8, 1.2)).ne(0).sum().item()
ratios = " ".join(f"{r:.2f}" for r in token_ratio[0].tolist())
print(f"token ratios {ratios} -> sequence ratio {seq.item():.3f}")
print(f"token-level clipping (eps 0.2) touches {clipped} of 5 tokens")
assert clipped == 2 and 0.8 < seq.item() < 1.2 and round(seq.item(), 3) == 1.157
# But a sequence ratio needs its own, much narrower range: GSPO's paper uses
# 3e-4 below and 4e-4 above, and with that the whole response is clipped.
inside = 1 - 3e-4 <= seq.item() <= 1 + 4e-4
print(f"inside GSPO's published range [1 - 3e-4, 1 + 4e-4]: {inside}")
assert not inside


# 6. A toy RLVR run: prompt (a, b), answer (a + b) mod 5, reward 1 if right.
# A table of logits (one row per prompt) stands in for the LLM.
def accuracy(logits):
    answer = (torch.arange(25) // 5 + torch.arange(25) % 5) % 5
    return logits.softmax(-1)[torch.arange(25), answer].mean().item()


logits = torch.zeros(25, 5, requires_grad=True)
ref = logits.detach().clone()  # the frozen reference policy
G, history, silent = 8, [], []
for _ in range(60):
    prompts = torch.randint(0, 25, (16,)).repeat_interleave(G)  # 16 groups
    with torch.no_grad():
        answers = torch.multinomial(logits[prompts].softmax(-1), 1)[:, 0]
    right = (answers == (prompts // 5 + prompts % 5) % 5).float()
    adv = grpo_advantages(right, group_size=G)
    silent.append((right.view(16, G).std(1) == 0).float().mean().item())
    logp = logits[prompts].log_softmax(-1).gather(1, answers[:, None])
    ref_logp = ref[prompts].log_softmax(-1).gather(1, answers[:, None])
    keep = torch.ones_like(logp, dtype=torch.bool)
    loss = grpo_loss(logp, logp.detach(), ref_logp, adv, keep)
    (grad,) = torch.autograd.grad(loss, logits)
    logits.data -= 20.0 * grad  # plain SGD: one update per batch
    history.append(accuracy(logits.detach()))
print("step      0    10    20    30    40    50    60")
print("acc.   0.20 " + " ".join(f"{history[i]:.2f}" for i in range(9, 60, 10)))
print(f"groups with equal rewards: first 10 steps {sum(silent[:10]) / 10:.2f}")
print(f"{'':27}last 10 steps  {sum(silent[-10:]) / 10:.2f}")
assert (
    math.isclose(accuracy(ref), 0.2, rel_tol=1e-6) and history[-1] > 0.9
)  # chance is 1/5
assert round(history[19], 2) == 0.95 and round(history[-1], 2) == 0.98
assert round(sum(silent[:10]) / 10, 2) == 0.17  # groups that teach nothing
assert round(sum(silent[-10:]) / 10, 2) == 0.86
