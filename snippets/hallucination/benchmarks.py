"""The CHAIR and POPE hallucination metrics on toy data."""

from mllm_handbook.metrics import chair, pope_metrics

# CHAIR: objects each generated caption mentions vs. objects annotated in its
# image. Captions 1 and 3 are faithful; "wine glass" and "boat" are not in
# their images.
mentioned = [
    {"dog", "frisbee", "grass"},
    {"dining table", "pizza", "fork", "wine glass"},
    {"person", "surfboard", "boat"},
    {"cat", "laptop"},
]
ground_truth = [
    {"dog", "frisbee", "grass", "tree"},
    {"dining table", "pizza", "fork", "cup"},
    {"person", "surfboard"},
    {"cat", "laptop", "keyboard", "mouse"},
]
chair_s, chair_i = chair(mentioned, ground_truth)
print(f"CHAIR_i = 2 hallucinated / 12 mentioned objects = {chair_i:.3f}")
print(f"CHAIR_s = 2 captions with a hallucination / 4    = {chair_s:.3f}")
assert abs(chair_i - 2 / 12) < 1e-12 and abs(chair_s - 2 / 4) < 1e-12
# Omitted objects ("tree", "cup", "keyboard", "mouse") do not count: CHAIR is
# about what is said, not coverage.

# POPE: 8 yes/no questions "Is there a <object> in the image?", half of them
# about absent objects.
labels = [True, True, True, True, False, False, False, False]
models = {
    "careful": [True, True, True, False, False, False, False, True],
    "always yes": [True] * 8,
}
columns = ["accuracy", "precision", "recall", "f1", "yes_ratio"]
print(f"\n{'model':>10} |   acc |  prec |   rec |    F1 |   yes")
for name, answers in models.items():
    m = pope_metrics(answers, labels)
    print(f"{name:>10} | " + " | ".join(f"{m[c]:5.3f}" for c in columns))
always_yes = pope_metrics(models["always yes"], labels)
assert always_yes["recall"] == 1.0 and always_yes["precision"] == 0.5
assert always_yes["yes_ratio"] == 1.0
assert pope_metrics(models["careful"], labels)["accuracy"] == 0.75
