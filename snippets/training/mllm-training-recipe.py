"""Staged MLLM training: what each stage trains, freezes and pays for."""

import torch
import torch.nn.functional as F

from mllm_handbook.llava import (
    IGNORE_INDEX,
    IMAGE_TOKEN_INDEX,
    ToyLlava,
    llama_num_params,
    mlp_projector_num_params,
    set_trainable,
    vit_num_params,
)

torch.manual_seed(0)
IMG = IMAGE_TOKEN_INDEX

# 1. The loss covers the answer only: prompt and image positions get -100.
model = ToyLlava(vocab_size=16, vision_dim=8, dim=16, vision_layers=1)
patches = torch.randn(2, 4, 8)
input_ids = torch.tensor([[IMG, 3, 4, 10, 11, 12], [IMG, 5, 6, 7, 13, 14]])
prompt_len = torch.tensor([3, 4])  # <image> + question; the rest is answer
is_answer = torch.arange(6) >= prompt_len[:, None]
labels = input_ids.masked_fill(~is_answer, IGNORE_INDEX)
logits, loss, full_labels = model(patches, input_ids, labels)
targets = full_labels[:, 1:]
scored = targets != IGNORE_INDEX
by_hand = F.cross_entropy(logits[:, :-1][scored], targets[scored])
all_text = input_ids.masked_fill(input_ids == IMG, IGNORE_INDEX)
loss_all = model(patches, input_ids, all_text)[1]
print(f"answer tokens scored: {int(scored.sum())} of {input_ids.numel()}")
print(f"loss on answers {loss.item():.4f} | on all text {loss_all.item():.4f}")
assert int(scored.sum()) == 5 and torch.allclose(loss, by_hand)
assert not torch.allclose(loss, loss_all)


# 2. One stage = one set of trainable parts; AdamW sees only those tensors.
def run_stage(parts: list[str], steps: int = 3) -> tuple[int, set, int]:
    """Train ``parts`` a few steps; return (#params, parts moved, #states)."""
    n_trainable = set_trainable(model, parts)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=1e-2, weight_decay=0.1)
    for _ in range(steps):
        opt.zero_grad()
        model(patches, input_ids, labels)[1].backward()
        opt.step()
    moved = {
        part
        for part, names in ToyLlava.PARTS.items()
        for n, p in model.named_parameters()
        if n.split(".")[0] in names and not torch.equal(p, before[n])
    }
    return n_trainable, moved, len(opt.state)


recipes = {
    "LLaVA-1.5": [["projector"], ["projector", "llm"]],
    "Qwen-VL": [
        ["vision", "projector"],
        ["vision", "projector", "llm"],
        ["projector", "llm"],
    ],
}
print("recipe    | stage | trained              | frozen     | params | states")
for recipe, stages in recipes.items():
    model = ToyLlava(vocab_size=16, vision_dim=8, dim=16, vision_layers=1)
    for stage, parts in enumerate(stages, start=1):
        n, moved, n_states = run_stage(parts)
        n_tensors = sum(1 for p in model.parameters() if p.requires_grad)
        frozen = [part for part in ToyLlava.PARTS if part not in parts]
        print(
            f"{recipe:<9} | {stage:>5} | {'+'.join(parts):<20} "
            f"| {'+'.join(frozen) or '-':<10} | {n:>6} | {n_states:>6}"
        )
        assert moved == set(parts)  # frozen parts are bit-identical
        assert n_states == n_tensors  # no optimizer state for frozen tensors
        frozen_grads = [
            p.grad for p in model.parameters() if not p.requires_grad
        ]
        assert all(g is None for g in frozen_grads)

# 3. Real sizes. LLaVA-1.5: CLIP ViT-L/14-336, MLP projector, Vicuna v1.5.
vision = vit_num_params(336, 14, 1024, 24, 4096)
llava = {
    "7B": (
        mlp_projector_num_params(1024, 4096),
        llama_num_params(32000, 4096, 32, 11008),
    ),
    "13B": (
        mlp_projector_num_params(1024, 5120),
        llama_num_params(32000, 5120, 40, 13824),
    ),
}
OPTIM_BYTES = 12  # fp32 master weights + Adam m and v, per trainable parameter
GB = 1e9
rows = []
for size, (proj, llm) in llava.items():
    rows += [
        (f"LLaVA-1.5-{size}", "1 align (558K pairs)", proj),
        (f"LLaVA-1.5-{size}", "2 instruct (665K)", proj + llm),
    ]
# Qwen-VL, Table 1 of the report (rounded): ViT 1.9B, adapter 0.08B, LLM 7.7B.
vit, adapter, qwen = 1.9e9, 0.08e9, 7.7e9
rows += [
    ("Qwen-VL", "1 pretrain (LLM frozen)", vit + adapter),
    ("Qwen-VL", "2 multi-task (all)", vit + adapter + qwen),
    ("Qwen-VL", "3 SFT (ViT frozen)", adapter + qwen),
]
print(f"CLIP ViT-L/14-336 tower: {vision:,} params (frozen in both stages)")
print("model         | stage                   | trainable      | AdamW state")
for name, stage, n in rows:
    state_gb = n * OPTIM_BYTES / GB
    print(f"{name:<13} | {stage:<23} | {n:>14,.0f} | {state_gb:7.2f} GB")
assert vision == 303_507_456
assert llava["7B"] == (20_979_712, 6_738_415_616)
assert llava["13B"] == (31_467_520, 13_015_864_320)
assert round(rows[0][2] * OPTIM_BYTES / GB, 2) == 0.25
assert round(rows[1][2] * OPTIM_BYTES / GB, 1) == 81.1
assert round(rows[3][2] * OPTIM_BYTES / GB, 1) == 156.6
assert round(rows[4][2] * OPTIM_BYTES / GB, 1) == 23.8
assert round(rows[5][2] * OPTIM_BYTES / GB, 1) == 116.2
assert round(rows[6][2] * OPTIM_BYTES / GB, 1) == 93.4
