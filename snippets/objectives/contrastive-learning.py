"""InfoNCE with a MoCo-style queue; the temperature weights hard negatives."""

import torch
import torch.nn.functional as F

from mllm_handbook.figures import new_figure, show
from mllm_handbook.losses import enqueue, info_nce

torch.manual_seed(0)
n, d, k, tau = 4, 8, 16, 0.07
query = torch.randn(n, d)  # q = encoder(image)
# k+ = momentum encoder(paired view or caption).
positive = query + 0.5 * torch.randn(n, d)
queue = F.normalize(torch.randn(k, d), dim=1)  # K negatives from past batches

# 1. InfoNCE = cross-entropy over [l_pos, l_neg] with the positive as
#    class 0 (MoCo, Algorithm 1).
loss = info_nce(query, positive, queue, tau)
q, k_pos = F.normalize(query, dim=1), F.normalize(positive, dim=1)
l_pos = (q * k_pos).sum(dim=1, keepdim=True)  # [N, 1]
l_neg = q @ queue.T  # [N, K]
logits = torch.cat([l_pos, l_neg], dim=1) / tau
reference = F.cross_entropy(logits, torch.zeros(n, dtype=torch.long))
print(
    f"info_nce {loss.item():.4f} == "
    f"cross_entropy([l_pos, l_neg]/tau) {reference.item():.4f}"
)
assert torch.allclose(loss, reference)

# 2. The queue: this batch's keys go in, the oldest N leave; its size stays K.
new_queue = enqueue(queue, k_pos)
assert new_queue.shape == queue.shape and torch.equal(new_queue[:n], k_pos)
assert torch.equal(new_queue[n:], queue[: k - n])
print(f"queue size {len(new_queue)}: {n} new keys in front, {n} oldest dropped")

# 3. Hardness-awareness: the gradient on negative j is proportional to its
#    softmax weight p_j = exp(s_j/tau) / sum_i exp(s_i/tau). Small tau
#    concentrates the weight on the most similar negatives.
sims = torch.linspace(-0.2, 0.8, 11)  # cosine similarity of 11 negatives
print(f"{'tau':>5} | weight on hardest (s=0.8) | weight on easiest (s=-0.2)")
fig, ax = new_figure(6.0, 2.8)
for t, marker in [(1.0, "o"), (0.2, "s"), (0.1, "^"), (0.05, "D")]:
    w = torch.softmax(sims / t, dim=0)
    print(f"{t:>5} | {w[-1].item():25.3f} | {w[0].item():26.1e}")
    ax.plot(sims.tolist(), w.tolist(), marker=marker, label=f"τ = {t}")
w_small = torch.softmax(sims / 0.05, dim=0)
w_large = torch.softmax(sims / 1.0, dim=0)
assert w_small[-1] > 0.8 > w_large[-1]  # small tau: most on the hardest
assert abs(w_large[-1].item() - 1 / 7) < 0.005  # tau = 1: about a seventh
ax.set_xlabel("similarity of the negative to the query")
ax.set_ylabel("softmax weight among negatives")
ax.legend(frameon=False)
show(
    fig,
    alt="Softmax weight of each negative against its similarity: the smaller "
    "the temperature, the more weight on the most similar negatives.",
)
