"""Distillation: T^2 KL between softened outputs; a higher T flattens them."""

import torch
import torch.nn.functional as F

from mllm_handbook.losses import distillation_loss

torch.manual_seed(0)

student, teacher = torch.randn(4, 10), torch.randn(4, 10) * 3
tops = []
for temperature in (1.0, 2.0, 4.0):
    ours = distillation_loss(student, teacher, temperature)
    builtin = temperature**2 * F.kl_div(
        F.log_softmax(student / temperature, -1),
        F.log_softmax(teacher / temperature, -1),
        reduction="batchmean",
        log_target=True,
    )
    assert torch.allclose(ours, builtin)  # T^2 * KL(teacher_T || student_T)
    top = F.softmax(teacher / temperature, -1).max(-1).values.mean().item()
    tops.append(top)
    print(
        f"T = {temperature:g}: teacher's mean top probability {top:.3f}, "
        f"distillation loss {ours:.4f}"
    )
assert tops[0] > tops[1] > tops[2]  # the higher T, the flatter the teacher
