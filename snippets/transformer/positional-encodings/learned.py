"""A learned position table has no row past its size: no extrapolation."""

import torch

learned = torch.nn.Embedding(16, 32)  # L_max = 16 positions, d = 32
learned(torch.arange(16))  # every position inside the table: fine
try:
    learned(torch.tensor([16]))
except IndexError:
    print("table with 16 rows: position 16 -> IndexError")
else:
    raise AssertionError("position 16 should not exist")
