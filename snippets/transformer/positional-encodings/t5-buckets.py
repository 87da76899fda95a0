"""T5's relative-position buckets: exact near 0, log-spaced, capped early."""

import torch

from mllm_handbook.positional import t5_relative_position_bucket

# Key - query offsets -> one of 32 shared buckets (16 per direction).
offsets = torch.tensor([-200, -100, -50, -20, -10, -8, -7, -1, 0, 1, 7, 8, 20])
buckets = t5_relative_position_bucket(offsets)
print("offset:", " ".join(f"{o:>4}" for o in offsets.tolist()))
print("bucket:", " ".join(f"{b:>4}" for b in buckets.tolist()))

# The smallest distance that lands in the last bucket, with the defaults
# (max_distance = 128).
distances = torch.arange(1, 300)
in_last = {
    "encoder, key after query": t5_relative_position_bucket(distances) == 31,
    "encoder, key before query": t5_relative_position_bucket(-distances) == 15,
    "decoder (causal, 32 buckets)": t5_relative_position_bucket(
        -distances, bidirectional=False
    )
    == 31,
}
starts = [distances[mask].min().item() for mask in in_last.values()]
for name, start in zip(in_last, starts, strict=True):
    print(f"{name}: last bucket from distance {start}")
assert starts == [91, 91, 113]
log_spaced = t5_relative_position_bucket(torch.arange(8, 91)).unique()
assert len(log_spaced) == 7
print(f"distances 8..90 share {len(log_spaced)} buckets")
