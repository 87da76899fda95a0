"""agents: schema validation, tool calls as observations, the ReAct loop, and SFT labels on agent trajectories."""

import json

import pytest
import torch
import torch.nn.functional as F

from mllm_handbook.agents import (
    Tool,
    agent_sft_example,
    call_tool,
    react_loop,
    schema_errors,
    to_sft_messages,
)
from mllm_handbook.sft import IGNORE_INDEX, build_sft_example, sft_loss

SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "days": {"type": "integer"},
        "unit": {"type": "string", "enum": ["C", "F"]},
        "scale": {"type": "number"},
        "detailed": {"type": "boolean"},
    },
    "required": ["city"],
    "additionalProperties": False,
}


def tokenize(text):
    return list(text.encode("utf-8"))


# --- schema validation ------------------------------------------------------------------------------


def test_schema_accepts_valid_arguments():
    assert schema_errors({"city": "Paris"}, SCHEMA) == []
    assert (
        schema_errors({"city": "Paris", "days": 3, "unit": "F", "scale": 0.5, "detailed": True}, SCHEMA) == []
    )
    assert schema_errors({"city": "Paris", "scale": 2}, SCHEMA) == []  # an integer is a number


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "missing required argument 'city'"),
        ({"city": 3}, "argument 'city' must be of type string"),
        ({"city": "Paris", "days": 2.5}, "argument 'days' must be of type integer"),
        ({"city": "Paris", "days": True}, "argument 'days' must be of type integer"),
        ({"city": "Paris", "scale": False}, "argument 'scale' must be of type number"),
        ({"city": "Paris", "detailed": 1}, "argument 'detailed' must be of type boolean"),
        ({"city": "Paris", "unit": "K"}, "argument 'unit' must be one of ['C', 'F']"),
        ({"city": "Paris", "location": "x"}, "unexpected argument 'location'"),
    ],
)
def test_schema_reports_each_problem(arguments, message):
    errors = schema_errors(arguments, SCHEMA)
    assert len(errors) == 1 and errors[0].startswith(message)


def test_schema_reports_several_problems_and_allows_extras_by_default():
    assert len(schema_errors({"location": "Paris", "unit": "K"}, SCHEMA)) == 3
    open_schema = {**SCHEMA, "additionalProperties": True}
    assert schema_errors({"city": "Paris", "location": "x"}, open_schema) == []
    assert schema_errors({"anything": 1}, {"type": "object"}) == []


# --- tool calls -------------------------------------------------------------------------------------

calls = []


def weather(city, days=1, unit="C", scale=1.0, detailed=False):
    calls.append(city)
    if city == "Atlantis":
        raise LookupError("no such city")
    return f"{city}: 18 {unit}"


REGISTRY = {"get_weather": Tool("get_weather", "Current weather.", SCHEMA, weather)}


def test_tool_spec_uses_mcp_field_names():
    assert REGISTRY["get_weather"].spec() == {
        "name": "get_weather",
        "description": "Current weather.",
        "inputSchema": SCHEMA,
    }


def test_call_tool_success_and_errors_become_observations():
    calls.clear()
    assert call_tool(REGISTRY, "get_weather", {"city": "Paris"}) == ("Paris: 18 C", False)
    text, is_error = call_tool(REGISTRY, "get_wether", {"city": "Paris"})
    assert is_error and "unknown tool 'get_wether'" in text and "get_weather" in text
    text, is_error = call_tool(REGISTRY, "get_weather", {"location": "Paris"})
    assert is_error and text.startswith("error: missing required argument 'city'")
    assert calls == ["Paris"]  # invalid calls never reach the tool
    assert call_tool(REGISTRY, "get_weather", {"city": "Atlantis"}) == ("error: no such city", True)


# --- the ReAct loop ---------------------------------------------------------------------------------


def scripted_policy(messages):
    """Calls with a wrong argument name, corrects itself from the error, then answers."""
    observations = [m["content"] for m in messages if m["role"] == "tool"]
    if not observations:
        return {"thought": "Look it up.", "tool": "get_weather", "arguments": {"location": "Paris"}}
    if observations[-1].startswith("error"):
        return {"thought": "Use 'city'.", "tool": "get_weather", "arguments": {"city": "Paris"}}
    return {"thought": "Done.", "answer": observations[-1]}


def test_react_loop_trajectory():
    messages = react_loop(scripted_policy, REGISTRY, "Weather in Paris?")
    assert [m["role"] for m in messages] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
        "assistant",
    ]
    assert json.loads(messages[0]["content"].removeprefix("Tools: ")) == [REGISTRY["get_weather"].spec()]
    call = messages[4]["content"].split("<tool_call>")[1].removesuffix("</tool_call>")
    assert json.loads(call) == {"name": "get_weather", "arguments": {"city": "Paris"}}
    assert messages[3]["content"].startswith("error:") and messages[5]["content"] == "Paris: 18 C"
    assert messages[-1]["content"] == "Thought: Done.\nAnswer: Paris: 18 C"


def test_react_loop_stops_after_max_steps_and_default():
    def stubborn(messages):
        return {"thought": "Again.", "tool": "get_weather", "arguments": {"city": "Paris"}}

    messages = react_loop(stubborn, REGISTRY, "?", max_steps=3)
    assert sum(m["role"] == "tool" for m in messages) == 3
    assert react_loop(stubborn, REGISTRY, "?") == react_loop(stubborn, REGISTRY, "?", max_steps=6)
    assert len(react_loop(stubborn, REGISTRY, "?", max_steps=1)) == 4  # valid edge
    with pytest.raises(ValueError, match="max_steps must be >= 1"):
        react_loop(stubborn, REGISTRY, "?", max_steps=0)


# --- SFT data ---------------------------------------------------------------------------------------


def test_tool_results_become_user_turns():
    messages = [{"role": "user", "content": "q"}, {"role": "tool", "content": "42"}]
    assert to_sft_messages(messages) == [
        {"role": "user", "content": "q"},
        {"role": "user", "content": "<tool_response>42</tool_response>"},
    ]


def test_labels_mask_tool_results_and_train_agent_turns():
    messages = react_loop(scripted_policy, REGISTRY, "Weather in Paris?")
    ids, labels = agent_sft_example(messages, tokenize)
    assert torch.equal(
        torch.stack([ids, labels]), torch.stack(build_sft_example(to_sft_messages(messages), tokenize))
    )
    trained = bytes(ids[labels != IGNORE_INDEX].tolist()).decode()
    expected = "".join(m["content"] + "<|im_end|>\n" for m in messages if m["role"] == "assistant")
    assert trained == expected  # exactly the agent's thoughts, calls and answer
    text = bytes(ids.tolist()).decode()
    for m in messages:
        if m["role"] == "tool":
            start = text.index(m["content"])
            assert (labels[start : start + len(m["content"])] == IGNORE_INDEX).all()


def test_loss_ignores_tool_outputs():
    messages = react_loop(scripted_policy, REGISTRY, "Weather in Paris?")
    ids, labels = agent_sft_example(messages, tokenize)
    logits = torch.randn(1, len(ids), 256, requires_grad=True)
    sft_loss(logits, labels[None]).backward()
    # Positions whose next token is a tool-result token get no gradient at all.
    predicts_masked = torch.cat([labels[1:] == IGNORE_INDEX, torch.tensor([True])])
    assert (logits.grad[0, predicts_masked] == 0).all()
    assert (logits.grad[0, ~predicts_masked].abs().sum(-1) > 0).all()
    manual = F.cross_entropy(logits[0, :-1], labels[1:], ignore_index=IGNORE_INDEX)
    torch.testing.assert_close(sft_loss(logits, labels[None]), manual)
