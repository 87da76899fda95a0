"""Video frames: sampling, token cost, one encoder for both, ids in seconds."""

import torch
import torch.nn.functional as F

from mllm_handbook.scaling import kv_cache_bytes_per_token
from mllm_handbook.video import (
    absolute_time_ids,
    duplicate_frames,
    fps_frame_indices,
    temporal_sum_kernel,
    uniform_frame_indices,
    video_token_count,
)

torch.manual_seed(0)

# 1. Sampling a 30 fps clip: 8 uniform frames, or 2 frames per second.
print("clip  | uniform 8: gap (s) | 2 fps: frames, gap (s)")
gaps = {}
for seconds in (10, 60):
    n = 30 * seconds
    uni = uniform_frame_indices(n, 8)
    fps = fps_frame_indices(n, video_fps=30.0, sample_fps=2.0)
    gap_u = (uni.diff().double() / 30).mean().item()
    gap_f = (fps.diff().double() / 30).mean().item()
    print(f"{seconds:>3} s | {gap_u:>18.2f} | {len(fps):>12}, {gap_f:.2f}")
    assert len(fps) == 2 * seconds and gap_f == 0.5
    gaps[seconds] = round(gap_u, 2)
assert gaps == {10: 1.42, 60: 8.57}
print("uniform 8 of 60 s:", uniform_frame_indices(1800, 8).tolist())

# 2. Tokens for one minute (Qwen2-VL: 14 px patches, 2 frames per tube,
#    2x2 merge, so one token per 2 frames x 28 x 28 px), and its KV cache
#    in Qwen2-VL-7B (28 layers, 4 KV heads of 128, bf16).
kv = kv_cache_bytes_per_token(num_layers=28, num_kv_heads=4, head_dim=128)
print("fps | frame px | frames | tokens/group | tokens | KV cache (MiB)")
budget = {}
for fps in (1, 2):
    for side in (224, 448, 896):
        tokens = video_token_count(60 * fps, side, side)
        per_group = tokens // (60 * fps // 2)
        mib = tokens * kv / 2**20
        budget[fps, side] = (per_group, tokens, mib)
        print(
            f"{fps:>3} | {side:>8} | {60 * fps:>6} | {per_group:>12} | "
            f"{tokens:>6} | {mib:>14.0f}"
        )
assert budget[1, 224] == (64, 1920, 105)  # the rows of the page's table
assert budget[1, 448] == (256, 7680, 420)
assert budget[2, 448] == (256, 15360, 840)
assert budget[2, 896] == (1024, 61440, 3360)
no_tubes = video_token_count(120, 448, 448, temporal_patch_size=1)
assert no_tubes == 30720 == 2 * budget[2, 448][1]  # tubes halve the tokens
assert kv == 56 * 2**10  # 56 KiB per token
hour = video_token_count(2 * 3600, 224, 224)
assert hour == 230400
print(
    f"KV cache: {kv // 2**10} KiB per token; one hour at 2 fps and "
    f"224x224 px: {hour} tokens"
)
cap = 16384  # Qwen2-VL's per-video limit in training
per_group = cap // 60
assert per_group == 273 and 16 * 16 <= per_group < 17 * 17
print(
    f"cap {cap}, 60 groups at 2 fps: <= {per_group} tokens per group, "
    "so about 448x448 px per frame"
)

# 3. One encoder: an image as two identical frames through the Conv3d
#    equals a Conv2d whose kernel is summed over time.
conv3d = torch.nn.Conv3d(3, 16, kernel_size=(2, 14, 14), stride=(2, 14, 14))
images = torch.randn(2, 3, 28, 56)
with torch.no_grad():
    video_path = conv3d(duplicate_frames(images)).squeeze(2)
    image_path = F.conv2d(
        images, temporal_sum_kernel(conv3d.weight), conv3d.bias, stride=14
    )
assert torch.allclose(video_path, image_path, atol=1e-5)
print("Conv3d(two copies) == Conv2d(summed kernel), up to float32 rounding")

# 4. Temporal ids: Qwen2-VL counts groups; Qwen2.5-VL counts half-seconds.
print("second | Qwen2-VL id at 1, 2, 4 fps | Qwen2.5-VL id at 1, 2, 4 fps")
rates = (1.0, 2.0, 4.0)
ids = {f: absolute_time_ids(int(4 * f), f) for f in rates}  # 8 s of video
for second in (0, 2, 4, 6):
    groups = [int(second * f / 2) for f in rates]  # group k starts at 2k/f s
    new = [ids[f][k].item() for f, k in zip(rates, groups, strict=True)]
    old_ids, new_ids = " ".join(map(str, groups)), " ".join(map(str, new))
    print(f"{second:>6} | {old_ids:>26} | {new_ids:>28}")
    assert len(set(new)) == 1 and new[0] == 2 * second
    assert second == 0 or len(set(groups)) == 3
