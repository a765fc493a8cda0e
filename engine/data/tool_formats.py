"""Function-calling text formats (LLaMA-Factory's `tool_format` names): the tool list and a tool call as text.

Each format has a `tools` function (the list of tools, appended to the system text) and a `calls` function
(an assistant's calls as text). Calls arrive as (name, arguments-as-JSON-text) pairs.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Callable

Call = tuple[str, str]

_DEFAULT_INTRO = "You have access to the following tools:\n"
_DEFAULT_USAGE = ("Use the following format if using a tool:\n```\nAction: tool name (one of [{names}])\n"
                  "Action Input: the input to the tool, in a JSON format representing the kwargs "
                  '(e.g. ```{{"input": "hello world", "num_beams": 5}}```)\n```\n')
_QWEN = ("\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
         "You are provided with function signatures within <tools></tools> XML tags:\n<tools>{listing}"
         "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
         '<tool_call></tool_call> XML tags:\n<tool_call>\n{{"name": <function-name>, '
         '"arguments": <args-json-object>}}\n</tool_call>')
_QWEN35 = ("\n\n# Tools\n\nYou have access to the following functions:\n\n<tools>{listing}"
           "\n</tools>\n\nIf you choose to call a function ONLY reply in the following format with NO suffix:\n\n"
           "<tool_call>\n<function=example_function_name>\n<parameter=example_parameter_1>\nvalue_1\n</parameter>\n"
           "<parameter=example_parameter_2>\nThis is the value for the second parameter\nthat can span\nmultiple "
           "lines\n</parameter>\n</function>\n</tool_call>\n\n<IMPORTANT>\nReminder:\n"
           "- Function calls MUST follow the specified format: "
           "an inner <function=...></function> block must be nested within <tool_call></tool_call> XML tags\n"
           "- Required parameters MUST be specified\n"
           "- You may provide optional reasoning for your function call in natural language "
           "BEFORE the function call, but NOT after\n"
           "- If there is no function call available, answer the question like normal with your current knowledge "
           "and do not tell the user about function calls\n</IMPORTANT>")
_LLAMA3 = ("Cutting Knowledge Date: December 2023\nToday Date: {date}\n\n"
           "You have access to the following functions. To call a function, please respond with JSON for a function "
           'call. Respond in the format {{"name": function name, "parameters": dictionary of argument name and its '
           'value}}. Do not use variables.\n\n{listing}')
_GLM4 = ("你是一个名为 ChatGLM 的人工智能助手。你是基于智谱 AI 公司训练的语言模型 GLM-4 模型开发的，"
         "你的任务是针对用户的问题和要求提供适当的答复和支持。\n\n# 可用工具{listing}")


def _spec(tool: dict) -> dict:
    """The function spec itself, unwrapped from {"type": "function", "function": ...}."""
    return tool.get("function", "") if tool.get("type") == "function" else tool


def _wrapped(tool: dict) -> dict:
    return tool if tool.get("type") == "function" else {"type": "function", "function": tool}


def _dumps(value: object, indent: int | None = None) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent)


def _default_tools(tools: list[dict]) -> str:
    listing, names = "", []
    for tool in map(_spec, tools):
        params = tool["parameters"]
        lines = ""
        for name, param in params["properties"].items():
            required = ", required" if name in params.get("required", []) else ""
            enum = f", should be one of [{', '.join(param['enum'])}]" if param.get("enum") else ""
            items = f", where each item should be {param['items'].get('type', '')}" if param.get("items") else ""
            lines += f"  - {name} ({param.get('type', '')}{required}): {param.get('description', '')}{enum}{items}\n"
        listing += (f"> Tool Name: {tool['name']}\nTool Description: {tool.get('description', '')}\n"
                    f"Tool Args:\n{lines}\n")
        names.append(tool["name"])
    return _DEFAULT_INTRO + listing + _DEFAULT_USAGE.format(names=", ".join(names))


def _default_calls(calls: list[Call]) -> str:
    return "\n".join(f"Action: {name}\nAction Input: {args}" for name, args in calls)


def _qwen_tools(tools: list[dict]) -> str:
    return _QWEN.format(listing="".join("\n" + _dumps(_wrapped(t)) for t in tools))


def _qwen_calls(calls: list[Call]) -> str:
    return "\n".join("<tool_call>\n" + _dumps({"name": name, "arguments": json.loads(args)}) + "\n</tool_call>"
                     for name, args in calls)


def _qwen35_tools(tools: list[dict]) -> str:
    return _QWEN35.format(listing="".join("\n" + _dumps(t.get("function", t) if t.get("type") == "function" else t)
                                          for t in tools))


def _qwen35_calls(calls: list[Call]) -> str:
    texts = []
    for name, args in calls:
        text = f"<tool_call>\n<function={name}>"
        for key, value in json.loads(args).items():
            text += f"\n<parameter={key}>\n{value if isinstance(value, str) else _dumps(value)}\n</parameter>"
        texts.append(text + "\n</function>\n</tool_call>")
    return "\n".join(texts)


def _llama3_tools(tools: list[dict], today: str | None = None) -> str:
    date = today or datetime.now().strftime("%d %b %Y")
    return _LLAMA3.format(date=date, listing="".join(_dumps(_wrapped(t), indent=4) + "\n\n" for t in tools))


def _llama3_calls(calls: list[Call]) -> str:
    objects = [{"name": name, "parameters": json.loads(args)} for name, args in calls]
    return _dumps(objects[0] if len(objects) == 1 else objects)


def _mistral_tools(tools: list[dict]) -> str:
    return "[AVAILABLE_TOOLS] " + _dumps([_wrapped(t) for t in tools]) + "[/AVAILABLE_TOOLS]"


def _mistral_calls(calls: list[Call]) -> str:
    return _dumps([{"name": name, "arguments": json.loads(args)} for name, args in calls])


def _glm4_tools(tools: list[dict]) -> str:
    listing = "".join(f"\n\n## {t['name']}\n\n{_dumps(t, indent=4)}\n在调用上述函数时，请使用 Json 格式表示调用的参数。"
                      for t in map(_spec, tools))
    return _GLM4.format(listing=listing)


def _glm4_calls(calls: list[Call]) -> str:
    if len(calls) > 1:
        raise ValueError("GLM-4 does not take parallel function calls")
    return f"{calls[0][0]}\n{calls[0][1]}"


TOOL_FORMATS: dict[str, tuple[Callable[[list[dict]], str], Callable[[list[Call]], str]]] = {
    "default": (_default_tools, _default_calls),
    "qwen": (_qwen_tools, _qwen_calls),
    "qwen3_5": (_qwen35_tools, _qwen35_calls),
    "llama3": (_llama3_tools, _llama3_calls),
    "mistral": (_mistral_tools, _mistral_calls),
    "glm4": (_glm4_tools, _glm4_calls),
}


def tools_text(fmt: str, tools_json: str) -> str:
    """The system-prompt text listing the tools of a row's tools column (JSON text); '' for an empty list."""
    tools = json.loads(tools_json)
    if isinstance(tools, dict):
        tools = [tools]
    return TOOL_FORMATS[fmt][0](tools) if len(tools) else ""


def calls_text(fmt: str, content: str) -> str:
    """A function message (JSON: one call or a list of calls) as the format's tool-call text."""
    calls = json.loads(content)
    calls = calls if isinstance(calls, list) else [calls]
    return TOOL_FORMATS[fmt][1]([(c["name"], _dumps(c["arguments"])) for c in calls])
