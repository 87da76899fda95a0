r"""A tool-using agent written out: JSON-Schema tool descriptions, a validated tool call, a ReAct loop, SFT data.

* A :class:`Tool` is a name, a description and a JSON Schema for its arguments, the shape that function-calling
  APIs and the Model Context Protocol (MCP, ``tools/list`` → ``inputSchema``) use; :func:`schema_errors`
  checks arguments against a small subset of JSON Schema, and :func:`call_tool` turns every failure into an
  error *observation* the model can read and correct. MCP does this with ``isError`` results for execution
  errors and, since its 2025-11-25 revision, for argument-validation errors too; it keeps unknown tools as
  JSON-RPC protocol errors.
* :func:`react_loop` runs the Thought → Action → Observation loop of ReAct (Yao et al., 2023) with any policy.
* :func:`to_sft_messages` and :func:`agent_sft_example` render a finished trajectory as SFT data with
  :func:`mllm_handbook.sft.build_sft_example`: tool results become non-assistant turns, so their labels are
  ``-100`` and the model is never trained to predict tool outputs, which it cannot know.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from mllm_handbook._checks import check
from mllm_handbook.sft import build_sft_example

#: JSON Schema type names and the Python values they accept (``bool`` is not a number in JSON).
JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


@dataclass(frozen=True)
class Tool:
    """A callable tool as the model sees it: name, description, and a JSON Schema for its arguments."""

    name: str
    description: str
    input_schema: dict[str, Any]
    fn: Callable[..., str]

    def spec(self) -> dict[str, Any]:
        """The description shown to the model (MCP's ``Tool``: ``name``, ``description``, ``inputSchema``)."""
        return {"name": self.name, "description": self.description, "inputSchema": self.input_schema}


def schema_errors(arguments: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    r"""Check tool arguments against an object JSON Schema; return the problems (empty if valid).

    The subset covered is what tool descriptions mostly use: ``properties`` with a ``type`` and an optional
    ``enum``, ``required``, and ``additionalProperties: false``. ``True`` is not accepted as a number.

    Args:
        arguments: the arguments the model produced, already parsed from JSON.
        schema: ``{"type": "object", "properties": {...}, "required": [...]}``.

    Returns:
        Human-readable error messages, one per problem.
    """
    properties = schema.get("properties", {})
    errors = [
        f"missing required argument {name!r}" for name in schema.get("required", []) if name not in arguments
    ]
    for name, value in arguments.items():
        if name not in properties:
            if schema.get("additionalProperties", True) is False:
                errors.append(f"unexpected argument {name!r}")
            continue
        spec = properties[name]
        expected = JSON_TYPES[spec["type"]]
        if not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
            errors.append(f"argument {name!r} must be of type {spec['type']}, got {value!r}")
        elif "enum" in spec and value not in spec["enum"]:
            errors.append(f"argument {name!r} must be one of {spec['enum']}, got {value!r}")
    return errors


def call_tool(registry: dict[str, Tool], name: str, arguments: dict[str, Any]) -> tuple[str, bool]:
    """Validate and run one tool call; failures come back as error text for the model, not exceptions.

    Args:
        registry: ``{tool name: Tool}``.
        name: the tool the model asked for.
        arguments: its arguments.

    Returns:
        ``(observation, is_error)``.
    """
    if name not in registry:
        return f"error: unknown tool {name!r}; available: {sorted(registry)}", True
    errors = schema_errors(arguments, registry[name].input_schema)
    if errors:
        return "error: " + "; ".join(errors), True
    try:
        return registry[name].fn(**arguments), False
    except Exception as exc:  # a failing tool is an observation too
        return f"error: {exc}", True


def react_loop(
    policy: Callable[[list[dict[str, Any]]], dict[str, Any]],
    registry: dict[str, Tool],
    question: str,
    max_steps: int = 6,
) -> list[dict[str, Any]]:
    r"""Run ReAct's loop: the policy thinks and acts, the tool's result comes back as an observation.

    Each step the policy reads the whole conversation and returns either
    ``{"thought": ..., "tool": name, "arguments": {...}}`` or ``{"thought": ..., "answer": ...}``. Tool calls
    are written as ``<tool_call>{json}</tool_call>`` in the assistant turn; results come back in a ``tool``
    turn. The loop stops at an answer or after ``max_steps`` actions.

    Args:
        policy: the model (here any function of the messages).
        registry: the tools it may call.
        question: the user's request.
        max_steps: the most tool calls before giving up, ``>= 1``.

    Returns:
        The trajectory: system (tool descriptions), user, then alternating assistant / tool messages.
    """
    check(max_steps >= 1, f"max_steps must be >= 1, got {max_steps}")
    tools = json.dumps([tool.spec() for tool in registry.values()])
    messages = [{"role": "system", "content": f"Tools: {tools}"}, {"role": "user", "content": question}]
    for _ in range(max_steps):
        step = policy(messages)
        if "answer" in step:
            messages.append(
                {"role": "assistant", "content": f"Thought: {step['thought']}\nAnswer: {step['answer']}"}
            )
            break
        call = json.dumps({"name": step["tool"], "arguments": step["arguments"]})
        messages.append(
            {"role": "assistant", "content": f"Thought: {step['thought']}\n<tool_call>{call}</tool_call>"}
        )
        observation, _ = call_tool(registry, step["tool"], step["arguments"])
        messages.append({"role": "tool", "content": observation})
    return messages


def to_sft_messages(messages: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """Map a trajectory onto the chat roles of :mod:`mllm_handbook.sft`: a tool result becomes a user turn.

    Tool results are wrapped in ``<tool_response>`` tags inside a user turn, as Qwen2.5's chat template does;
    what matters for training is that they are not assistant turns.
    """
    out = []
    for m in messages:
        if m["role"] == "tool":
            out.append({"role": "user", "content": f"<tool_response>{m['content']}</tool_response>"})
        else:
            out.append({"role": m["role"], "content": m["content"]})
    return out


def agent_sft_example(
    messages: Sequence[dict[str, Any]], tokenize: Callable[[str], list[int]]
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""SFT ``(input_ids, labels)`` for an agent trajectory: only the agent's own turns are trained.

    $$\ell_t = \begin{cases} x_t & t \text{ inside an assistant turn (thought, tool call, answer)} \\
    -100 & \text{system, user and tool-result tokens} \end{cases}$$

    Tool results are inputs: the model reads them but cannot predict them (a weather value, a search
    result), so training on them would teach it to invent tool outputs. Search-R1 likewise masks retrieved
    tokens out of its RL loss, which the paper reports makes training stable (Jin et al., 2025,
    arXiv 2503.09516).

    Args:
        messages: a trajectory from :func:`react_loop`.
        tokenize: text to token ids.

    Returns:
        ``(input_ids, labels)``, both ``[seq]``.
    """
    return build_sft_example(to_sft_messages(messages), tokenize)
