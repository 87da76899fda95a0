"""CHAIR and POPE on toy data (page: hallucination/benchmarks)."""

from mllm_handbook.metrics import chair, pope_metrics

# CHAIR: objects each generated caption mentions vs. objects annotated in its image.
mentioned = [
    {"dog", "frisbee", "grass"},  # faithful
    {
        "dining table",
        "pizza",
        "fork",
        "wine glass",
    },  # "wine glass" is not in the image
    {"person", "surfboard", "boat"},  # "boat" is not in the image
    {"cat", "laptop"},  # faithful
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
# Omitted objects ("tree", "cup", "keyboard", "mouse") do not count: CHAIR is about what is said, not coverage.

# POPE: 8 yes/no questions "Is there a <object> in the image?", half of them about absent objects.
labels = [True, True, True, True, False, False, False, False]
models = {
    "careful": [True, True, True, False, False, False, False, True],
    "always yes": [True] * 8,
}
print(
    f"\n{'model':>10} | {'acc':>5} | {'prec':>5} | {'rec':>5} | {'F1':>5} | {'yes':>5}"
)
for name, answers in models.items():
    m = pope_metrics(answers, labels)
    print(
        f"{name:>10} | {m['accuracy']:5.3f} | {m['precision']:5.3f} | {m['recall']:5.3f} | "
        f"{m['f1']:5.3f} | {m['yes_ratio']:5.3f}"
    )
always_yes = pope_metrics(models["always yes"], labels)
assert (
    always_yes["recall"] == 1.0
    and always_yes["precision"] == 0.5
    and always_yes["yes_ratio"] == 1.0
)
assert pope_metrics(models["careful"], labels)["accuracy"] == 0.75
