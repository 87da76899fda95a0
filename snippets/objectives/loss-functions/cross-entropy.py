"""Cross-entropy with label smoothing and ignored (-100) positions."""

import torch
import torch.nn.functional as F

from mllm_handbook.losses import cross_entropy

torch.manual_seed(0)

# Equal to F.cross_entropy, with and without smoothing; label -100 (an
# image token, the prompt, padding) is left out of the mean.
logits, labels = torch.randn(5, 4), torch.tensor([0, 3, -100, 1, 2])
for eps in (0.0, 0.1):
    ours = cross_entropy(logits, labels, label_smoothing=eps)
    assert torch.allclose(
        ours, F.cross_entropy(logits, labels, label_smoothing=eps)
    )
kept = labels != -100
assert torch.allclose(
    cross_entropy(logits, labels), cross_entropy(logits[kept], labels[kept])
)
print("cross_entropy == F.cross_entropy; label -100 is ignored: OK")

# Label smoothing: a confident, correct prediction keeps a positive loss.
confident, label = torch.tensor([[10.0, 0.0, 0.0, 0.0]]), torch.tensor([0])
ce = {eps: cross_entropy(confident, label, eps).item() for eps in (0.0, 0.1)}
for eps, value in ce.items():
    print(f"label_smoothing={eps}: CE = {value:.4f}")
assert ce[0.0] < 1e-3 < 0.5 < ce[0.1]
