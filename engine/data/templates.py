"""Chat templates: a named format (LLaMA-Factory's names, `chat_formats.py`) or the tokenizer's own Jinja.

A named format renders and tokenizes as LLaMA-Factory does: message by message, each slot piece tokenized on
its own, bos/eos as token ids, the generation prompt inside the user slot, empty thoughts for reasoning formats.
The tokenizer's own template renders through `apply_chat_template`'s Jinja path. Both give training
(`encode_turns`), preference/chat prompts (`encode_oneturn`, `prompt_ids`) and text (`render`). Any other
name falls back to the tokenizer's own template with a note.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

from engine.config.errors import ConfigError, Problem
from engine.config.schema import TrainConfig

from .aligned import Unfit
from .chat_formats import BOS, CONTENT, EOS, FORMATS, ChatFormat
from .tool_formats import TOOL_FORMATS, calls_text, tools_text

TEMPLATE_NAMES = tuple(sorted(FORMATS))
TOOLS_INTRO = ("# Tools\n\nYou may call these functions. Their signatures are inside <tools></tools>:\n<tools>\n")
TOOLS_OUTRO = ("\n</tools>\n\nTo call one, reply with a JSON object of its name and arguments inside "
               "<tool_call></tool_call> tags.")

Pair = tuple[list[int], list[int]]


@dataclass
class Template:
    """What every chat template offers: its name, stop words, system prompt and the Jinja text it exports."""

    name: str
    jinja: str
    stop_words: list[str]
    default_system: str | None = None
    enable_thinking: bool = True
    efficient_eos: bool = False  # LLaMA-Factory's layout with one eos at the end of an example
    note: str = ""  # a one-line remark for the journal (e.g. an unknown name fell back to the tokenizer's own)
    special_tokens: dict[str, Any] = field(default_factory=dict)

    def encode_turns(self, tokenizer: Any, messages: list[dict], system: str = "", tools: str = "",
                     mask_history: bool = False) -> list[Pair]:
        """(prompt_ids, answer_ids) for each assistant turn; their concatenation is the whole conversation."""
        raise NotImplementedError

    def encode_oneturn(self, tokenizer: Any, messages: list[dict], system: str = "", tools: str = "") -> Pair:
        """The whole history as prompt ids and the last answer's ids (preference data, chat)."""
        pairs = self.encode_turns(tokenizer, messages, system, tools)
        return [t for p, a in pairs[:-1] for t in p + a] + pairs[-1][0], pairs[-1][1]

    def prompt_ids(self, tokenizer: Any, messages: list[dict], system: str = "", tools: str = "") -> list[int]:
        """Token ids that make the model answer the conversation (a leading system message is taken as system)."""
        raise NotImplementedError

    def render(self, messages: list[dict], add_generation_prompt: bool = False, tools: str | list | None = None,
               system: str = "") -> str:
        """The conversation as text; messages may start with a system message."""
        raise NotImplementedError

    def missing_tokens(self, tokenizer: Any) -> list[str]:
        """Stop words the tokenizer does not hold as single tokens (they train as several pieces)."""
        vocab = tokenizer.get_vocab()
        return [w for w in self.stop_words if w not in vocab]


def _split_system(messages: list[dict], system: str) -> tuple[list[dict], str]:
    if messages and messages[0]["role"] == "system":
        return messages[1:], system or messages[0]["content"]
    return messages, system


# ---- named formats -------------------------------------------------------------------------------------------

Piece = str | tuple[str]  # text, or ("bos",) / ("eos",) for the tokenizer's special token


@dataclass
class SlotTemplate(Template):
    """A named format rendered slot by slot, as LLaMA-Factory renders it."""

    fmt: ChatFormat = field(default_factory=ChatFormat)
    preserve_thinking: bool = False
    bos: tuple[str, int | None] = ("", None)
    eos: tuple[str, int | None] = ("", None)

    def encode_turns(self, tokenizer: Any, messages: list[dict], system: str = "", tools: str = "",
                     mask_history: bool = False) -> list[Pair]:
        if len(messages) < 2 or len(messages) % 2:
            raise Unfit("no assistant turn to train")
        pieces = self._turns(messages, system, tools, mask_history)
        ids = [self._ids(tokenizer, p) for p in pieces]
        return [(ids[i], ids[i + 1]) for i in range(0, len(ids), 2)]

    def encode_oneturn(self, tokenizer: Any, messages: list[dict], system: str = "", tools: str = "") -> Pair:
        prompt, answer = self._oneturn(messages, system, tools)
        return self._ids(tokenizer, prompt), self._ids(tokenizer, answer)

    def prompt_ids(self, tokenizer: Any, messages: list[dict], system: str = "", tools: str = "") -> list[int]:
        messages, system = _split_system(messages, system)
        return self.encode_oneturn(tokenizer, [*messages, {"role": "assistant", "content": ""}], system, tools)[0]

    def render(self, messages: list[dict], add_generation_prompt: bool = False, tools: str | list | None = None,
               system: str = "") -> str:
        messages, system = _split_system(messages, system)
        tools = json.dumps(tools, ensure_ascii=False) if isinstance(tools, list) else tools or ""
        if add_generation_prompt:
            prompt, _ = self._oneturn([*messages, {"role": "assistant", "content": ""}], system, tools)
            return self._text(prompt)
        if len(messages) % 2:  # ends with a question: its slot already opens the answer
            return self._text([p for turn in self._messages(messages, system, tools) for p in turn])
        return self._text([p for turn in self._turns(messages, system, tools) for p in turn])

    # LLaMA-Factory's Template._encode: prefix and system open the first message.
    def _messages(self, messages: list[dict], system: str, tools: str) -> list[list[Piece]]:
        fmt = self.fmt
        system = system or self.default_system or ""
        out: list[list[Piece]] = []
        for i, message in enumerate(messages):
            pieces: list[Piece] = []
            system_text = ""
            if i == 0:
                pieces += _fill(fmt.prefix, "")
                if system or tools:
                    joined = system + (self._tools_text(tools) if tools else "")
                    if fmt.system_in_user:
                        system_text = str(_fill(fmt.system, joined)[0])
                    else:
                        pieces += _fill(fmt.system, joined)
            role, content = message["role"], message["content"]
            if role == "user":
                pieces += _fill(fmt.user, system_text + content if fmt.system_in_user else content)
            elif role == "assistant":
                pieces += _fill(fmt.assistant, content)
            elif role == "observation":
                pieces += _fill(fmt.observation, content)
            elif role == "function":
                pieces += _fill(fmt.function, self._call_text(content))
            else:
                raise Unfit(f"unexpected role '{role}'")
            out.append(pieces)
        return out

    def _turns(self, messages: list[dict], system: str, tools: str, mask_history: bool = False) -> list[list[Piece]]:
        """LLaMA-Factory's encode_multiturn: per message pieces, with empty thoughts for reasoning formats."""
        if not self.fmt.reasoning:
            return self._messages(messages, system, tools)
        messages = [dict(m) for m in messages]
        discard = mask_history and not self.preserve_thinking
        for i in range(1, len(messages), 2):
            if not self.enable_thinking or (discard and i < len(messages) - 2):
                messages[i]["content"] = self._without_thought(messages[i]["content"])
        turns = self._messages(messages, system, tools)
        for i in ([len(messages) - 2] if discard else range(0, len(messages), 2)):
            if not self._has_thought(messages[i + 1]["content"]):
                if self.enable_thinking:
                    turns[i + 1] = [self._empty_thought(), *turns[i + 1]]
                else:
                    turns[i] = [*turns[i], self._empty_thought()]
        return turns

    def _oneturn(self, messages: list[dict], system: str, tools: str) -> tuple[list[Piece], list[Piece]]:
        """LLaMA-Factory's encode_oneturn: everything before the last answer is prompt."""
        if not self.fmt.reasoning:
            turns = self._messages(messages, system, tools)
            return [p for turn in turns[:-1] for p in turn], turns[-1]
        messages = [dict(m) for m in messages]
        if not self.preserve_thinking:
            for i in range(1, len(messages) - 2, 2):
                messages[i]["content"] = self._without_thought(messages[i]["content"])
        if not self.enable_thinking:
            messages[-1]["content"] = self._without_thought(messages[-1]["content"])
        turns = self._messages(messages, system, tools)
        prompt, answer = [p for turn in turns[:-1] for p in turn], turns[-1]
        if not self._has_thought(messages[-1]["content"]):
            if self.enable_thinking:
                answer = [self._empty_thought(), *answer]
            else:
                prompt = [*prompt, self._empty_thought()]
        return prompt, answer

    def _tools_text(self, tools: str) -> str:
        try:
            if self.fmt.tools in TOOL_FORMATS:
                return tools_text(self.fmt.tools, tools)
            json.loads(tools)
            return self.fmt.tools.replace(CONTENT, tools, 1)
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise Unfit(f"tools column is not a list of function specs ({exc})") from None

    def _call_text(self, content: str) -> str:
        """A function message as the format's tool-call text; thoughts and <tool_call> wrappers kept around it."""
        fmt = self.fmt
        before = ""
        if fmt.system_in_user:
            body = content
        elif match := _between(fmt.tool_call_words, content):
            before, body = content.replace(match.group(0), ""), match.group(1)
        elif match := _between(fmt.thought_words, content):
            before, body = match.group(0), content.replace(match.group(0), "")
        else:
            body = content
        try:
            return before + calls_text(fmt.calls, body)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise Unfit(f"function call is not JSON with name and arguments ({exc})") from None

    def _has_thought(self, content: str) -> bool:
        start, end = (w.strip() for w in self.fmt.thought_words)
        return start in content or end in content

    def _without_thought(self, content: str) -> str:
        start, end = self.fmt.thought_words
        return re.sub(f"{re.escape(start)}(.*?){re.escape(end)}", "", content, flags=re.DOTALL).lstrip("\n")

    def _empty_thought(self) -> str:
        return "".join(self.fmt.thought_words)

    def _ids(self, tokenizer: Any, pieces: list[Piece]) -> list[int]:
        ids: list[int] = []
        for piece in pieces:
            if isinstance(piece, str):
                if piece:
                    ids += tokenizer.encode(piece, add_special_tokens=False)
            else:
                token_id = (self.bos if piece == ("bos",) else self.eos)[1]
                if token_id is not None:
                    ids.append(token_id)
        return ids

    def _text(self, pieces: list[Piece]) -> str:
        return "".join(p if isinstance(p, str) else (self.bos if p == ("bos",) else self.eos)[0] for p in pieces)


def _fill(slot: str, content: str) -> list[Piece]:
    """A slot's pieces: text with the content put in (first {{content}} only), bos/eos markers as tokens."""
    pieces: list[Piece] = []
    for part in re.split(r"(\{\{bos\}\}|\{\{eos\}\})", slot):
        if part == BOS:
            pieces.append(("bos",))
        elif part == EOS:
            pieces.append(("eos",))
        elif part:
            pieces.append(part.replace(CONTENT, content, 1))
    return pieces


def _first_text(slot: str) -> str:
    """The first text piece of a slot (what LLaMA-Factory fuses into the first user message)."""
    return next(p for p in re.split(r"\{\{(?:bos|eos)\}\}", slot) if p)


def _between(words: tuple[str, str], content: str) -> re.Match | None:
    return re.search(f"{re.escape(words[0])}(.*?){re.escape(words[1])}", content, flags=re.DOTALL)


def prepare_tokenizer(fmt: ChatFormat, tokenizer: Any) -> str:
    """LLaMA-Factory's token fixes: the first stop word as eos (replace_eos), eos as pad when there is none.

    Only tokens the vocabulary already holds are used (new ones would need resized embeddings); the note
    returned says when a stop word could not become the eos token.
    """
    note = ""
    vocab = tokenizer.get_vocab()
    if fmt.replace_eos and fmt.stop_words and tokenizer.eos_token != fmt.stop_words[0]:
        if fmt.stop_words[0] in vocab:
            tokenizer.add_special_tokens({"eos_token": fmt.stop_words[0]})
        else:
            note = f"{fmt.stop_words[0]} is not a token of this tokenizer, so it cannot end answers as eos"
    if tokenizer.eos_token_id is None and "<|endoftext|>" in vocab:
        tokenizer.add_special_tokens({"eos_token": "<|endoftext|>"})
    if tokenizer.pad_token_id is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return note


def named_template(name: str, tokenizer: Any, config: TrainConfig) -> SlotTemplate:
    """The named format for this tokenizer (its eos replaced where the format says so)."""
    fmt = FORMATS[name].filled()
    if config.train_on_prompt and fmt.efficient_eos:
        raise ConfigError(Problem(("train_on_prompt", "template"), f"template '{name}' ends each example with one "
                                  "eos, so prompts cannot be trained", "turn train_on_prompt off"))
    if config.tool_format:
        if config.tool_format not in TOOL_FORMATS:
            raise ConfigError(Problem(("tool_format",), f"unknown tool format '{config.tool_format}'",
                                      f"use one of {', '.join(TOOL_FORMATS)}"))
        slot = CONTENT if fmt.efficient_eos else CONTENT + EOS
        fmt = replace(fmt, function=slot, calls=config.tool_format, tools=config.tool_format)
    note = prepare_tokenizer(fmt, tokenizer)
    stops = list(dict.fromkeys([*fmt.stop_words, *([tokenizer.eos_token] if tokenizer.eos_token else [])]))
    own = tokenizer.chat_template if isinstance(tokenizer.chat_template, str) else None
    jinja = format_jinja(fmt, default_system=config.default_system, enable_thinking=config.enable_thinking) \
        if fmt.replace_jinja or not own else own
    tokenizer.chat_template = jinja
    return SlotTemplate(
        name=name, jinja=jinja, stop_words=stops, default_system=config.default_system or fmt.default_system or None,
        enable_thinking=config.enable_thinking, efficient_eos=fmt.efficient_eos, note=note, fmt=fmt,
        preserve_thinking=config.preserve_thinking,
        bos=(tokenizer.bos_token or "", tokenizer.bos_token_id),
        eos=(tokenizer.eos_token or "", tokenizer.eos_token_id))


# ---- the tokenizer's own Jinja template ------------------------------------------------------------------------

@dataclass
class JinjaTemplate(Template):
    """The tokenizer's own chat template (or any Jinja text), rendered as `apply_chat_template` renders it."""

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
        messages, system = _split_system(messages, system)
        tool_list = parse_tools(tools) if "tools" in self.jinja else None
        text_tools = json.dumps(tools) if isinstance(tools, list) else tools or ""
        return self._render(self.chat_messages(messages, system, text_tools), add_generation_prompt, tool_list)

    def prompt_ids(self, tokenizer: Any, messages: list[dict], system: str = "", tools: str = "") -> list[int]:
        text = self.render(messages, add_generation_prompt=True, tools=tools or None, system=system)
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    def encode_turns(self, tokenizer: Any, messages: list[dict], system: str = "", tools: str = "",
                     mask_history: bool = False) -> list[Pair]:
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


def get_template(config: TrainConfig, tokenizer: Any) -> Template:
    """The named template of `config.template`, or the tokenizer's own (also for names lmf-tui does not know)."""
    if config.template in FORMATS:
        return named_template(config.template, tokenizer, config)
    note = ""
    if config.template:
        note = f"template '{config.template}' is not one lmf-tui knows: using the tokenizer's own chat template"
    return own_template(config, tokenizer, note)


def template_summary(name: str | None) -> str:
    """One line for a dry run: which chat template the name gives, without loading the tokenizer."""
    if not name:
        return "the tokenizer's own chat template"
    if name not in FORMATS:
        return f"{name} is not one lmf-tui knows: the tokenizer's own chat template"
    fmt = FORMATS[name]
    stops = ", ".join(fmt.stop_words) or "eos"
    return f"{name} (LLaMA-Factory's layout; stops at {stops}" + (", thinking" if fmt.reasoning else "") + ")"


def own_template(config: TrainConfig, tokenizer: Any, note: str = "") -> JinjaTemplate:
    """The tokenizer's own Jinja chat template; a one-line error when it has none."""
    specials = {k: v for k, v in tokenizer.special_tokens_map.items() if isinstance(v, str)}
    specials.setdefault("eos_token", tokenizer.eos_token or "")
    specials.setdefault("bos_token", tokenizer.bos_token or "")
    jinja = tokenizer.chat_template
    if isinstance(jinja, dict):
        jinja = jinja.get("default") or next(iter(jinja.values()), None)
    if not jinja:
        what = f"template '{config.template}' is not one lmf-tui knows and " if config.template else ""
        raise ConfigError(Problem(("template",), f"{what}the tokenizer of {config.model_name_or_path} has no chat "
                                  "template", f"set template: to one of {', '.join(TEMPLATE_NAMES)}"))
    stops = [t for t in ("<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<end_of_turn>", "<|end|>", "<|endoftext|>")
             if t in jinja]
    if tokenizer.eos_token and tokenizer.eos_token not in stops:
        stops.append(tokenizer.eos_token)
    return JinjaTemplate(name="tokenizer", jinja=jinja, stop_words=stops, default_system=config.default_system,
                         enable_thinking=config.enable_thinking, note=note, special_tokens=specials)


# ---- Jinja and Go text of a named format (export, llama.cpp chat, Ollama) ----------------------------------------

def format_jinja(fmt: ChatFormat, default_system: str | None = None, enable_thinking: bool = True) -> str:
    """A Jinja chat template that renders chat prompts as the format does (system, user, assistant, tool).

    bos/eos are the `bos_token`/`eos_token` variables; answers in the history lose their thoughts, and with
    thinking off an empty thought follows the generation prompt, as LLaMA-Factory's chat prompt has them.
    """
    fmt = fmt.filled()
    system = default_system if default_system is not None else fmt.default_system
    start, end = fmt.thought_words
    parts = [
        "{%- set ns = namespace(system=" + _lit(system or "") + ") -%}",
        "{%- if messages and messages[0]['role'] == 'system' -%}"
        "{%- set ns.system = messages[0]['content'] or ns.system -%}{%- set loop_messages = messages[1:] -%}"
        "{%- else -%}{%- set loop_messages = messages -%}{%- endif -%}",
        _jinja_out(fmt.prefix, "''"),
    ]
    if not fmt.system_in_user:
        parts.append("{%- if ns.system -%}" + _jinja_out(fmt.system, "ns.system") + "{%- endif -%}")
    parts += ["{%- for message in loop_messages -%}",
              "{%- set content = message['content'] if message['content'] is string else '' -%}",
              "{%- if message['role'] == 'user' -%}"]
    if fmt.system_in_user:
        fused = _jinja_expr(_first_text(fmt.system), "ns.system")
        parts.append("{%- if loop.first and ns.system -%}{%- set content = " + fused + " ~ content -%}{%- endif -%}")
    parts += [_jinja_out(fmt.user, "content"), "{%- elif message['role'] == 'assistant' -%}"]
    if fmt.reasoning:
        parts.append("{%- if " + _lit(start) + " in content and " + _lit(end) + " in content -%}"
                     "{%- set content = (content.split(" + _lit(start) + ")[0] ~ content.split(" + _lit(end)
                     + ")[-1]).lstrip('\\n') -%}{%- endif -%}")
    parts += [_jinja_out(fmt.assistant, "content"),
              "{%- elif message['role'] in ('tool', 'observation') -%}", _jinja_out(fmt.observation, "content"),
              "{%- endif -%}{%- endfor -%}"]
    if fmt.reasoning:
        thinking = "true" if enable_thinking else "false"
        parts.append("{%- if add_generation_prompt and not (enable_thinking if enable_thinking is defined else "
                     + thinking + ") -%}" + _jinja_out(start + end, "''") + "{%- endif -%}")
    return "".join(p for p in parts if p)


def format_go(template: Template) -> str | None:
    """An Ollama Go TEMPLATE for a named format (None for the tokenizer's own); see `engine/export/ollama.py`.

    A leading bos is left out (llama.cpp adds it); eos tokens are written as their text.
    """
    if not isinstance(template, SlotTemplate):
        return None
    fmt = template.fmt

    def go(slot: str, var: str) -> str:
        return slot.replace(BOS, template.bos[0]).replace(EOS, template.eos[0]).replace(CONTENT, "{{ " + var + " }}")

    prefix = fmt.prefix[len(BOS):] if fmt.prefix.startswith(BOS) else fmt.prefix
    text = go(prefix, "")
    if fmt.system_in_user:
        user = ('{{ if $sys }}' + go(_first_text(fmt.system), "$sys") + '{{ $sys = "" }}{{ end }}')
        user = go(fmt.user, ".Content").replace("{{ .Content }}", user + "{{ .Content }}", 1)
        text += "{{- $sys := .System }}"
    else:
        user = go(fmt.user, ".Content")
        text += "{{- if .System }}" + go(fmt.system, ".System") + "{{ end }}"
    text += ("{{- range .Messages }}{{ if eq .Role \"user\" }}" + user
             + "{{ else if eq .Role \"assistant\" }}" + go(fmt.assistant, ".Content")
             + "{{ else if eq .Role \"tool\" }}" + go(fmt.observation, ".Content") + "{{ end }}{{ end }}")
    if fmt.reasoning and not template.enable_thinking:
        text += "".join(fmt.thought_words)
    return text


def _jinja_expr(slot: str, var: str) -> str:
    """A Jinja expression for a slot: literal text, the content variable, bos_token / eos_token."""
    items = []
    for piece in _fill(slot.replace(CONTENT, "\0"), ""):
        if piece == ("bos",):
            items.append("bos_token")
        elif piece == ("eos",):
            items.append("eos_token")
        else:
            for i, chunk in enumerate(str(piece).split("\0")):
                if i:
                    items.append(var)
                if chunk:
                    items.append(_lit(chunk))
    return " ~ ".join(items) or "''"


def _jinja_out(slot: str, var: str) -> str:
    return "{{- " + _jinja_expr(slot, var) + " -}}" if slot else ""


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


def _split_tokens(tokenizer: Any, text: str, spans: list[tuple[int, int]]) -> list[Pair]:
    """Tokenize the whole text once and cut the ids where the answer spans start and end."""
    try:
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids, starts = enc["input_ids"], [start for start, _ in enc["offset_mapping"]]
    except (NotImplementedError, ValueError, TypeError):  # no offsets (slow tokenizer): count prefix tokens
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        return _split_by_prefix_lengths(tokenizer, text, ids, spans)
    pairs: list[Pair] = []
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


def _split_by_prefix_lengths(tokenizer: Any, text: str, ids: list[int], spans: list[tuple[int, int]]) -> list[Pair]:
    cuts = [len(tokenizer(text[:b], add_special_tokens=False)["input_ids"]) for span in spans for b in span]
    cuts[-1] = len(ids)
    bounds = [0, *cuts]
    return [(ids[bounds[2 * n]:bounds[2 * n + 1]], ids[bounds[2 * n + 1]:bounds[2 * n + 2]])
            for n in range(len(spans))]


def _lit(text: str) -> str:
    return json.dumps(text)


def stop_token_ids(tokenizer: Any, stop_words: list[str]) -> list[int]:
    """The ids that end an answer: every stop word that is one token of this tokenizer, then its eos."""
    vocab = tokenizer.get_vocab()
    ids = [vocab[w] for w in stop_words if w in vocab]
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    return list(dict.fromkeys(ids))
