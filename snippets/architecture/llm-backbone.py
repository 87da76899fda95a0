"""A toy LLaVA forward: image tokens spliced into the text, text-only loss."""

import torch

from mllm_handbook.llava import IGNORE_INDEX, IMAGE_TOKEN_INDEX, ToyLlava

torch.manual_seed(0)
model = ToyLlava(vocab_size=12, vision_dim=16, dim=32, num_layers=2).eval()
patches = torch.randn(1, 4, 16)  # 4 patch features from a vision encoder

# "USER: <image> what is it ? ASSISTANT: a cat" as toy ids; -200 marks the
# <image> placeholder.
input_ids = torch.tensor([[1, IMAGE_TOKEN_INDEX, 3, 4, 5, 6, 7, 8]])
# SFT-style labels: prompt positions -100, answer tokens supervised; the
# placeholder's label (0 here) is arbitrary.
X = IGNORE_INDEX
labels = torch.tensor([[X, 0, X, X, X, X, 7, 8]])

logits, loss, full_labels = model(patches, input_ids, labels)
print("input_ids   :", input_ids[0].tolist())
layout = [
    "img" if 1 <= t < 1 + patches.shape[1] else "txt"
    for t in range(full_labels.shape[1])
]
print("positions   :", layout)
print("labels      :", full_labels[0].tolist())
print(
    f"logits shape: {tuple(logits.shape)}  "
    "(8 ids - 1 placeholder + 4 image tokens = 11 positions)"
)
print(f"loss                          = {loss.item():.4f}")

# 1. The label written at the placeholder never reaches the loss: image
#    positions are all -100.
for junk in [0, 5, 11]:
    other = labels.clone()
    other[input_ids == IMAGE_TOKEN_INDEX] = junk
    same = model(patches, input_ids, other)[1]
    print(f"loss with placeholder label {junk:>2} = {same.item():.4f}")
    assert torch.equal(same, loss)

# 2. The image still matters: it changes the answer tokens' predictions
#    through causal attention.
changed = model(torch.randn(1, 4, 16), input_ids, labels)[1]
print(f"loss with a different image   = {changed.item():.4f}")
assert not torch.isclose(changed, loss)
