"""A ReAct loop over schema-checked tools, and its trajectory as SFT data."""

import torch

from mllm_handbook.agents import (
    Tool,
    agent_sft_example,
    react_loop,
    schema_errors,
    to_sft_messages,
)
from mllm_handbook.sft import IGNORE_INDEX, render_turn

torch.manual_seed(0)


def make_tools(weather: dict[str, str]) -> dict[str, Tool]:
    """Two tools, each described by a JSON Schema for its arguments."""
    city = {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    }
    temp = {
        "type": "object",
        "properties": {"celsius": {"type": "number"}},
        "required": ["celsius"],
        "additionalProperties": False,
    }
    return {
        "get_weather": Tool(
            "get_weather",
            "Current weather in a city.",
            city,
            lambda city: weather[city],
        ),
        "to_fahrenheit": Tool(
            "to_fahrenheit",
            "Convert Celsius.",
            temp,
            lambda celsius: f"{celsius * 9 / 5 + 32:g} F",
        ),
    }


def policy(messages: list[dict]) -> dict:
    """A scripted, deterministic stand-in for the model's next step."""
    seen = [m["content"] for m in messages if m["role"] == "tool"]
    if not seen:  # first call uses a wrong argument name
        return {
            "thought": "I need the weather in Paris.",
            "tool": "get_weather",
            "arguments": {"location": "Paris"},
        }
    if seen[-1].startswith("error"):  # read the error and fix the call
        return {
            "thought": "The tool wants 'city'.",
            "tool": "get_weather",
            "arguments": {"city": "Paris"},
        }
    if seen[-1].endswith(" C"):
        return {
            "thought": "Convert to Fahrenheit.",
            "tool": "to_fahrenheit",
            "arguments": {"celsius": float(seen[-1].split()[0])},
        }
    return {"thought": "I have the answer.", "answer": f"It is {seen[-1]}."}


# 1. The ReAct loop: thought -> tool call -> observation, until an answer.
question = "What is the temperature in Paris in Fahrenheit?"
trajectory = react_loop(policy, make_tools({"Paris": "18 C"}), question)
for m in trajectory[1:]:
    print(f"{m['role']:>9}: {m['content']}")
roles = [m["role"] for m in trajectory]
assert roles == ["system", "user"] + ["assistant", "tool"] * 3 + ["assistant"]
assert trajectory[3]["content"].startswith("error: missing required argument")
assert trajectory[-1]["content"].endswith("It is 64.4 F.")


# 2. As SFT data: labels are -100 on system, user and tool-result tokens.
def tokenize(text: str) -> list[int]:
    return list(text.encode("utf-8"))  # byte-level toy tokenizer


ids, labels = agent_sft_example(trajectory, tokenize)
trained = labels != IGNORE_INDEX
print(
    f"\n{len(ids)} tokens, {int(trained.sum())} trained "
    f"({trained.float().mean():.0%}); per turn:"
)
offset = 0
for m, rendered in zip(trajectory, to_sft_messages(trajectory), strict=True):
    header, content, footer = render_turn(rendered["role"], rendered["content"])
    n = len(tokenize(header + content + footer))
    n_trained = int(trained[offset : offset + n].sum())
    print(f"{m['role']:>9} | {n:>3} tokens | {n_trained:>3} trained")
    is_agent = m["role"] == "assistant"
    assert n_trained == (len(tokenize(content + footer)) if is_agent else 0)
    offset += n
assert offset == len(ids) and (len(ids), int(trained.sum())) == (1295, 435)

# 3. Why mask tool results: the same prefix can be followed by different tool
#    outputs (the weather changes). The two samples agree token for token up
#    to the first digit of the temperature; trained on it, one context would
#    have two targets, and the model would learn to guess the weather.
other = react_loop(policy, make_tools({"Paris": "25 C"}), question)
ids_b, labels_b = agent_sft_example(other, tokenize)
n = min(len(ids), len(ids_b))
split = int((ids[:n] != ids_b[:n]).nonzero()[0])
context = bytes(ids[split - 20 : split].tolist()).decode()
targets = bytes([ids[split], ids_b[split]]).decode()
print(
    f"\nfirst difference after ...{context!r}: {targets[0]!r} vs {targets[1]!r}"
)
print(f"label there: {labels[split].item()} (masked), so no conflicting target")
assert targets == "12" and labels[split] == labels_b[split] == IGNORE_INDEX

# 4. Computer use: the action space is a schema too (screenshot in, action out).
gui = {
    "type": "object",
    "properties": {
        "action": {"type": "string", "enum": ["click", "type", "scroll"]},
        "x": {"type": "integer"},
        "y": {"type": "integer"},
        "text": {"type": "string"},
    },
    "required": ["action"],
    "additionalProperties": False,
}
print()
for action in [
    {"action": "click", "x": 412, "y": 88},
    {"action": "drag", "x": 412.5, "y": 88},
]:
    print(action, "->", schema_errors(action, gui) or "valid")
assert schema_errors({"action": "type", "text": "hello"}, gui) == []
assert len(schema_errors({"action": "drag", "x": 412.5}, gui)) == 2
