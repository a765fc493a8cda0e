"""Chat templates: the tokenizer's own, or a named one (chatml, qwen3, llama3…) written as Jinja.

Every template renders through the same Jinja path as `tokenizer.apply_chat_template`, so training,
chat and export (GGUF/Ollama) see one format. `encode_turns` splits the tokens into prompt/answer pairs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from engine.config.errors import ConfigError, Problem
from engine.config.schema import TrainConfig

from .aligned import Unfit

THINK_EMPTY = "<think>\n\n</think>\n\n"
TOOLS_INTRO = ("# Tools\n\nYou may call these functions. Their signatures are inside <tools></tools>:\n<tools>\n")
TOOLS_OUTRO = ("\n</tools>\n\nTo call one, reply with a JSON object of its name and arguments inside "
               "<tool_call></tool_call> tags.")


@dataclass(frozen=True)
class Family:
    """How one model family lays out a conversation; `{c}` is the message text."""

    system: str
    user: str
    assistant: str
    tool: str
    generation: str
    stop_words: tuple[str, ...]
    bos: bool = False
    system_in_user: bool = False  # no system role: the system text opens the first user turn
    default_system: str = ""
    thinking: bool = False  # <think> blocks: an empty one opens answers when thinking is off
    never_thinks: bool = False  # thinking is always off (qwen3_nothink)


CHATML = Family(system="<|im_start|>system\n{c}<|im_end|>\n", user="<|im_start|>user\n{c}<|im_end|>\n",
                assistant="<|im_start|>assistant\n{c}<|im_end|>\n", tool="<|im_start|>tool\n{c}<|im_end|>\n",
                generation="<|im_start|>assistant\n", stop_words=("<|im_end|>",))
QWEN_TOOL = "<|im_start|>user\n<tool_response>\n{c}\n</tool_response><|im_end|>\n"
FAMILIES: dict[str, Family] = {
    "chatml": CHATML,
    "qwen": Family(**{**CHATML.__dict__, "tool": QWEN_TOOL,
                      "default_system": "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."}),
    "qwen3": Family(**{**CHATML.__dict__, "tool": QWEN_TOOL, "thinking": True}),
    "qwen3_nothink": Family(**{**CHATML.__dict__, "tool": QWEN_TOOL, "thinking": True, "never_thinks": True}),
    "llama3": Family(
        system="<|start_header_id|>system<|end_header_id|>\n\n{c}<|eot_id|>",
        user="<|start_header_id|>user<|end_header_id|>\n\n{c}<|eot_id|>",
        assistant="<|start_header_id|>assistant<|end_header_id|>\n\n{c}<|eot_id|>",
        tool="<|start_header_id|>ipython<|end_header_id|>\n\n{c}<|eot_id|>",
        generation="<|start_header_id|>assistant<|end_header_id|>\n\n", stop_words=("<|eot_id|>", "<|eom_id|>"),
        bos=True),
    "gemma": Family(
        system="", user="<start_of_turn>user\n{c}<end_of_turn>\n", assistant="<start_of_turn>model\n{c}<end_of_turn>\n",
        tool="<start_of_turn>user\n<tool_response>\n{c}\n</tool_response><end_of_turn>\n",
        generation="<start_of_turn>model\n", stop_words=("<end_of_turn>",), bos=True, system_in_user=True),
    "mistral": Family(
        system="", user="[INST] {c} [/INST]", assistant=" {c}{eos}", tool="[TOOL_RESULTS] {c}[/TOOL_RESULTS]",
        generation="", stop_words=(), bos=True, system_in_user=True),
    "phi": Family(
        system="<|system|>\n{c}<|end|>\n", user="<|user|>\n{c}<|end|>\n", assistant="<|assistant|>\n{c}<|end|>\n",
        tool="<|user|>\n<tool_response>\n{c}\n</tool_response><|end|>\n", generation="<|assistant|>\n",
        stop_words=("<|end|>",)),
    "default": Family(
        system="System: {c}\n", user="Human: {c}\n", assistant="Assistant: {c}{eos}\n",
        tool="Observation: {c}\n", generation="Assistant:", stop_words=()),
    "empty": Family(system="{c}", user="{c}", assistant="{c}{eos}", tool="{c}", generation="", stop_words=()),
}
TEMPLATE_NAMES = tuple(FAMILIES)


@dataclass
class Template:
    """A chat format: its Jinja text, stop words and system prompt; encodes rows for training."""

    name: str
    jinja: str
    stop_words: list[str]
    default_system: str | None = None
    enable_thinking: bool = True
    special_tokens: dict[str, Any] = field(default_factory=dict)

    def chat_messages(self, messages: list[dict], system: str = "", tools: str = "") -> list[dict]:
        """Aligned messages (user/assistant/observation/function) as chat-template messages.

        Templates that know no tools get the tool list in the system text and tool calls as plain text.
        """
        out: list[dict] = []
        system = system or self.default_system or ""
        if tools and "tools" not in self.jinja:
            listed = "\n".join(json.dumps(t, ensure_ascii=False) for t in parse_tools(tools) or [])
            system = (system + "\n\n" if system else "") + TOOLS_INTRO + listed + TOOLS_OUTRO
        if system:
            out.append({"role": "system", "content": system})
        for message in messages:
            role, content = message["role"], message["content"]
            if role == "observation":
                out.append({"role": "tool", "content": content})
            elif role == "function":
                out.append(_tool_call_message(content) if "tool_calls" in self.jinja else
                           {"role": "assistant", "content": f"<tool_call>\n{content}\n</tool_call>"})
            else:
                out.append(dict(message))
        return out

    def render(self, messages: list[dict], add_generation_prompt: bool = False, tools: str | list | None = None,
               system: str = "") -> str:
        """The conversation as text; messages may be aligned or chat-template ones (a leading system one too)."""
        if messages and messages[0]["role"] == "system":
            system, messages = system or messages[0]["content"], messages[1:]
        tool_list = parse_tools(tools) if "tools" in self.jinja else None
        text_tools = json.dumps(tools) if isinstance(tools, list) else tools or ""
        return self._render(self.chat_messages(messages, system, text_tools), add_generation_prompt, tool_list)

    def encode_turns(self, tokenizer: Any, messages: list[dict], system: str = "",
                     tools: str = "") -> list[tuple[list[int], list[int]]]:
        """(prompt_ids, answer_ids) for each assistant turn; their concatenation is the whole conversation."""
        chat = self.chat_messages(messages, system, tools)
        tool_list = parse_tools(tools) if "tools" in self.jinja else None
        full = self._render(chat, False, tool_list)
        spans = self._answer_spans(chat, full, tool_list)
        if not spans:
            raise Unfit("no assistant turn to train")
        return _split_tokens(tokenizer, full, spans)

    def _render(self, chat: list[dict], add_generation_prompt: bool, tools: list | None) -> str:
        from jinja2 import TemplateError
        from transformers.utils.chat_template_utils import render_jinja_template

        chat = [{k: v for k, v in m.items() if v is not None} for m in chat]
        try:
            rendered, _ = render_jinja_template(
                conversations=[chat], tools=tools, chat_template=self.jinja,
                add_generation_prompt=add_generation_prompt,
                **{**self.special_tokens, "enable_thinking": self.enable_thinking})
        except TemplateError as exc:
            raise Unfit(f"chat template '{self.name}' refuses the row ({str(exc)[:120]})") from None
        return rendered[0]

    def _answer_spans(self, chat: list[dict], full: str, tools: list | None) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        cursor = 0
        for i, message in enumerate(chat):
            if message["role"] != "assistant":
                continue
            before = self._render(chat[:i], True, tools)
            upto = self._render(chat[:i + 1], False, tools)
            if full.startswith(upto) and upto.startswith(before) and cursor <= len(before) < len(upto):
                span = (len(before), len(upto))
            else:  # the template rewrites earlier turns: find the answer text itself
                text = (message.get("content") or "").split("</think>")[-1].strip()
                start = full.find(text, cursor) if text else -1
                if start < 0:
                    raise Unfit(f"template '{self.name}' drops an earlier answer; cannot mark it")
                end = start + len(text)
                for stop in self.stop_words:
                    if full.startswith(stop, end):
                        end += len(stop)
                        break
                span = (start, end)
            spans.append(span)
            cursor = span[1]
        return spans

    def missing_tokens(self, tokenizer: Any) -> list[str]:
        """Stop words the tokenizer does not hold as single tokens (they train as several pieces)."""
        vocab = tokenizer.get_vocab()
        return [w for w in self.stop_words if w not in vocab]


def get_template(config: TrainConfig, tokenizer: Any) -> Template:
    """The named template of `config.template` (set on the tokenizer too), or the tokenizer's own."""
    specials = {k: v for k, v in tokenizer.special_tokens_map.items() if isinstance(v, str)}
    specials.setdefault("eos_token", tokenizer.eos_token or "")
    specials.setdefault("bos_token", tokenizer.bos_token or "")
    if config.template:
        name = config.template
        if name not in FAMILIES:
            raise ConfigError(Problem(("template",), f"unknown template '{name}'",
                                      f"use one of {', '.join(TEMPLATE_NAMES)}, or leave it empty for the "
                                      "tokenizer's own"))
        family = FAMILIES[name]
        jinja = build_jinja(family)
        tokenizer.chat_template = jinja
        stops = list(family.stop_words) or ([tokenizer.eos_token] if tokenizer.eos_token else [])
        return Template(name=name, jinja=jinja, stop_words=stops,
                        default_system=config.default_system or family.default_system or None,
                        enable_thinking=config.enable_thinking and not family.never_thinks, special_tokens=specials)
    jinja = tokenizer.chat_template
    if isinstance(jinja, dict):
        jinja = jinja.get("default") or next(iter(jinja.values()), None)
    if not jinja:
        raise ConfigError(Problem(("template",), f"the tokenizer of {config.model_name_or_path} has no chat template",
                                  f"set template: to one of {', '.join(TEMPLATE_NAMES)}"))
    stops = [t for t in ("<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<end_of_turn>", "<|end|>", "<|endoftext|>")
             if t in jinja]
    if tokenizer.eos_token and tokenizer.eos_token not in stops:
        stops.append(tokenizer.eos_token)
    return Template(name="tokenizer", jinja=jinja, stop_words=stops, default_system=config.default_system,
                    enable_thinking=config.enable_thinking, special_tokens=specials)


def build_jinja(family: Family) -> str:
    """The Jinja chat template of a family (HF message format: system/user/assistant/tool, tool_calls)."""
    think = "false" if family.never_thinks else "(enable_thinking if enable_thinking is defined else true)"
    parts = [
        "{%- set ns = namespace(system=" + _lit(family.default_system) + ") -%}",
        "{%- if messages and messages[0]['role'] == 'system' -%}{%- set ns.system = messages[0]['content'] -%}"
        "{%- set loop_messages = messages[1:] -%}{%- else -%}{%- set loop_messages = messages -%}{%- endif -%}",
        "{%- set thinking = " + think + " -%}",
        "{%- if tools -%}{%- set ns.system = (ns.system ~ '\\n\\n' if ns.system else '') ~ " + _lit(TOOLS_INTRO)
        + " -%}{%- for tool in tools -%}{%- set ns.system = ns.system ~ (tool | tojson) ~ '\\n' -%}{%- endfor -%}"
        "{%- set ns.system = ns.system ~ " + _lit(TOOLS_OUTRO.lstrip("\n")) + " -%}{%- endif -%}",
    ]
    if family.bos:
        parts.append("{{- bos_token -}}")
    if family.system and not family.system_in_user:
        parts.append("{%- if ns.system -%}" + _expr(family.system, "ns.system") + "{%- endif -%}")
    parts += [
        "{%- for message in loop_messages -%}",
        "{%- set content = message['content'] if message['content'] is string else '' -%}",
        "{%- if message['role'] == 'user' -%}",
    ]
    if family.system_in_user:
        parts.append("{%- if loop.first and ns.system -%}{%- set content = ns.system ~ '\\n\\n' ~ content -%}"
                     "{%- endif -%}")
    parts += [
        _expr(family.user, "content"),
        "{%- elif message['role'] == 'assistant' -%}",
        "{%- if message['tool_calls'] is defined and message['tool_calls'] -%}"
        "{%- set calls = namespace(text=content) -%}{%- for call in message['tool_calls'] -%}"
        "{%- set f = call['function'] if call['function'] is defined else call -%}"
        "{%- set calls.text = calls.text ~ ('\\n' if calls.text else '') ~ '<tool_call>\\n' ~ "
        "({'name': f['name'], 'arguments': f['arguments']} | tojson) ~ '\\n</tool_call>' -%}"
        "{%- endfor -%}{%- set content = calls.text -%}{%- endif -%}",
    ]
    if family.thinking:
        parts.append("{%- if not thinking and '<think>' not in content -%}"
                     "{%- set content = " + _lit(THINK_EMPTY) + " ~ content -%}{%- endif -%}")
    parts += [
        _expr(family.assistant, "content"),
        "{%- elif message['role'] == 'tool' -%}",
        _expr(family.tool, "content"),
        "{%- endif -%}",
        "{%- endfor -%}",
        "{%- if add_generation_prompt -%}" + _expr(family.generation, "''")
        + ("{%- if not thinking -%}" + _expr(THINK_EMPTY, "''") + "{%- endif -%}" if family.thinking else "")
        + "{%- endif -%}",
    ]
    return "".join(parts)


def parse_tools(tools: str | list | None) -> list[dict] | None:
    """A tools column (JSON text or list of function specs) as chat-template tools, or None."""
    if not tools:
        return None
    if isinstance(tools, str):
        try:
            tools = json.loads(tools)
        except json.JSONDecodeError:
            raise Unfit("tools column is not valid JSON") from None
    if isinstance(tools, dict):
        tools = [tools]
    if not isinstance(tools, list):
        raise Unfit("tools column is not a list of functions")
    return [t if isinstance(t, dict) and t.get("type") == "function" else {"type": "function", "function": t}
            for t in tools]


def _tool_call_message(content: str) -> dict:
    try:
        calls = json.loads(content)
    except json.JSONDecodeError:
        return {"role": "assistant", "content": content}
    calls = calls if isinstance(calls, list) else [calls]
    if not all(isinstance(c, dict) and "name" in c for c in calls):
        return {"role": "assistant", "content": content}
    return {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": c["name"], "arguments": c.get("arguments", {})}} for c in calls]}


def _split_tokens(tokenizer: Any, text: str, spans: list[tuple[int, int]]) -> list[tuple[list[int], list[int]]]:
    """Tokenize the whole text once and cut the ids where the answer spans start and end."""
    try:
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids, starts = enc["input_ids"], [start for start, _ in enc["offset_mapping"]]
    except (NotImplementedError, ValueError, TypeError):  # no offsets (slow tokenizer): count prefix tokens
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        return _split_by_prefix_lengths(tokenizer, text, ids, spans)
    pairs: list[tuple[list[int], list[int]]] = []
    k = 0
    for n, (start, end) in enumerate(spans):
        last = n == len(spans) - 1
        first = k
        while k < len(ids) and starts[k] < start:
            k += 1
        cut = k
        while k < len(ids) and (last or starts[k] < end):
            k += 1
        pairs.append((ids[first:cut], ids[cut:k]))
    return pairs


def _split_by_prefix_lengths(tokenizer: Any, text: str, ids: list[int],
                             spans: list[tuple[int, int]]) -> list[tuple[list[int], list[int]]]:
    cuts = [len(tokenizer(text[:b], add_special_tokens=False)["input_ids"]) for span in spans for b in span]
    cuts[-1] = len(ids)
    bounds = [0, *cuts]
    return [(ids[bounds[2 * n]:bounds[2 * n + 1]], ids[bounds[2 * n + 1]:bounds[2 * n + 2]])
            for n in range(len(spans))]


def _expr(layout: str, var: str) -> str:
    """A Jinja output expression for a layout string with {c} (content) and {eos}."""
    pieces = []
    for i, chunk in enumerate(layout.split("{c}")):
        if i:
            pieces.append(var)
        for j, part in enumerate(chunk.split("{eos}")):
            if j:
                pieces.append("eos_token")
            if part:
                pieces.append(_lit(part))
    return "{{- " + " ~ ".join(pieces) + " -}}" if pieces else ""


def _lit(text: str) -> str:
    return json.dumps(text)
