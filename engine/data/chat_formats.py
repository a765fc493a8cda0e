"""Named chat formats with LLaMA-Factory's names and layouts, as data.

A slot is text with `{{content}}` where the message goes, and `{{bos}}` / `{{eos}}` where the tokenizer's
begin/end token ids go. The user slot ends by opening the assistant's turn (the generation prompt is part of
it), as in LLaMA-Factory. `templates.py` renders and tokenizes these slot by slot.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

CONTENT, BOS, EOS = "{{content}}", "{{bos}}", "{{eos}}"
THOUGHT = ("<think>\n", "\n</think>\n\n")


@dataclass(frozen=True)
class ChatFormat:
    """One chat layout. Empty slots take LLaMA-Factory's defaults (see `filled`)."""

    user: str = CONTENT
    assistant: str = ""  # default: content + eos (content alone with efficient_eos)
    system: str = CONTENT
    function: str = ""  # an assistant's tool call; default: the assistant slot
    observation: str = ""  # a tool result; default: the user slot
    prefix: str = ""  # before the first message
    tools: str = "default"  # tool-list format (tool_formats.py), or a slot around the tools JSON as is
    calls: str = "default"  # tool-call format (tool_formats.py)
    default_system: str = ""
    stop_words: tuple[str, ...] = ()
    efficient_eos: bool = False  # no eos after answers; one eos ends the whole example
    replace_eos: bool = False  # the first stop word becomes the tokenizer's eos token
    replace_jinja: bool = False  # written over a tokenizer's own Jinja chat template
    reasoning: bool = False  # <think> blocks: an empty one is added to answers that have none
    system_in_user: bool = False  # the system text opens the first user message (Llama 2, Gemma, Mistral)
    thought_words: tuple[str, str] = THOUGHT
    tool_call_words: tuple[str, str] = ("<tool_call>", "</tool_call>")

    def filled(self) -> ChatFormat:
        """This format with LLaMA-Factory's defaults for the slots left empty."""
        assistant = self.assistant or (CONTENT if self.efficient_eos else CONTENT + EOS)
        return replace(self, assistant=assistant, function=self.function or assistant,
                       observation=self.observation or self.user)


_CHATML_USER = "<|im_start|>user\n{{content}}<|im_end|>\n<|im_start|>assistant\n"
_CHATML = dict(user=_CHATML_USER, assistant="{{content}}<|im_end|>\n",
               system="<|im_start|>system\n{{content}}<|im_end|>\n")
_QWEN = ChatFormat(**_CHATML, function="{{content}}<|im_end|>\n", calls="qwen", tools="qwen",
                   observation="<|im_start|>user\n<tool_response>\n{{content}}\n</tool_response><|im_end|>\n"
                               "<|im_start|>assistant\n",
                   stop_words=("<|im_end|>",), replace_eos=True)
_QWEN35 = replace(_QWEN, calls="qwen3_5", tools="qwen3_5")
_GEMMA = ChatFormat(user="<start_of_turn>user\n{{content}}<end_of_turn>\n<start_of_turn>model\n",
                    assistant="{{content}}<end_of_turn>\n", system="{{content}}\n\n",
                    observation="<start_of_turn>tool\n{{content}}<end_of_turn>\n<start_of_turn>model\n",
                    prefix=BOS, stop_words=("<end_of_turn>",), replace_eos=True, system_in_user=True)
_DEEPSEEK3 = ChatFormat(user="<｜User｜>{{content}}<｜Assistant｜>", prefix=BOS)
_LLAMA3_HEAD = "<|start_header_id|>{}<|end_header_id|>\n\n"

FORMATS: dict[str, ChatFormat] = {
    "alpaca": ChatFormat(
        user="### Instruction:\n{{content}}\n\n### Response:\n", assistant="{{content}}{{eos}}\n\n",
        default_system="Below is an instruction that describes a task. Write a response that appropriately "
                       "completes the request.\n\n", replace_jinja=True),
    # Baichuan 2: LLaMA-Factory's definition up to 0.9.x (no longer in its main branch).
    "baichuan2": ChatFormat(user="<reserved_106>{{content}}<reserved_107>", efficient_eos=True),
    "chatml": ChatFormat(**_CHATML, observation="<|im_start|>tool\n{{content}}<|im_end|>\n<|im_start|>assistant\n",
                         stop_words=("<|im_end|>", "<|im_start|>"), replace_eos=True, replace_jinja=True),
    "default": ChatFormat(user="Human: {{content}}{{eos}}\nAssistant:", assistant="{{content}}{{eos}}\n",
                          system="System: {{content}}{{eos}}\n", replace_jinja=True),
    "deepseek": ChatFormat(user="User: {{content}}\n\nAssistant:", system="{{content}}\n\n", prefix=BOS),
    "deepseek3": _DEEPSEEK3,
    "deepseekr1": replace(_DEEPSEEK3, reasoning=True),
    "empty": ChatFormat(assistant=CONTENT),
    "gemma": _GEMMA,
    "gemma2": replace(_GEMMA, stop_words=("<eos>", "<end_of_turn>"), efficient_eos=True, replace_eos=False),
    "gemma3": _GEMMA,
    "glm4": ChatFormat(user="<|user|>\n{{content}}<|assistant|>", assistant="\n{{content}}",
                       system="<|system|>\n{{content}}", function=CONTENT, calls="glm4", tools="glm4",
                       observation="<|observation|>\n{{content}}<|assistant|>", prefix="[gMASK]<sop>",
                       stop_words=("<|user|>", "<|observation|>"), efficient_eos=True),
    "intern2": ChatFormat(
        **_CHATML, prefix=BOS, stop_words=("<|im_end|>",),
        default_system="You are an AI assistant whose name is InternLM (书生·浦语).\n"
                       "- InternLM (书生·浦语) is a conversational language model that is developed by "
                       "Shanghai AI Laboratory (上海人工智能实验室). It is designed to be helpful, honest, and "
                       "harmless.\n- InternLM (书生·浦语) can understand and communicate fluently in the language "
                       "chosen by the user such as English and 中文."),
    "llama2": ChatFormat(user="{{bos}}[INST] {{content}} [/INST]", system="<<SYS>>\n{{content}}\n<</SYS>>\n\n",
                         system_in_user=True),
    "llama3": ChatFormat(
        user=_LLAMA3_HEAD.format("user") + "{{content}}<|eot_id|>" + _LLAMA3_HEAD.format("assistant"),
        assistant="{{content}}<|eot_id|>", system=_LLAMA3_HEAD.format("system") + "{{content}}<|eot_id|>",
        function="{{content}}<|eot_id|>", calls="llama3", tools="llama3",
        observation=_LLAMA3_HEAD.format("ipython") + "{{content}}<|eot_id|>" + _LLAMA3_HEAD.format("assistant"),
        prefix=BOS, stop_words=("<|eot_id|>", "<|eom_id|>"), replace_eos=True),
    "mistral": ChatFormat(user="[INST] {{content}}[/INST]", assistant=" {{content}}{{eos}}", system="{{content}}\n\n",
                          function="[TOOL_CALLS] {{content}}{{eos}}", calls="mistral", tools="mistral",
                          observation='[TOOL_RESULTS] {"content": {{content}}}[/TOOL_RESULTS]', prefix=BOS,
                          system_in_user=True),
    "phi": ChatFormat(user="<|user|>\n{{content}}<|end|>\n<|assistant|>\n", assistant="{{content}}<|end|>\n",
                      system="<|system|>\n{{content}}<|end|>\n", stop_words=("<|end|>",), replace_eos=True),
    "phi4": ChatFormat(user="<|im_start|>user<|im_sep|>{{content}}<|im_end|><|im_start|>assistant<|im_sep|>",
                       assistant="{{content}}<|im_end|>", system="<|im_start|>system<|im_sep|>{{content}}<|im_end|>",
                       stop_words=("<|im_end|>",), replace_eos=True),
    "phi4_mini": ChatFormat(user="<|user|>{{content}}<|end|><|assistant|>", assistant="{{content}}<|end|>",
                            system="<|system|>{{content}}<|end|>", tools="<|tool|>{{content}}<|/tool|>",
                            stop_words=("<|end|>",), replace_eos=True),
    "qwen": replace(_QWEN, default_system="You are Qwen, created by Alibaba Cloud. You are a helpful assistant."),
    "qwen3": replace(_QWEN, reasoning=True),
    "qwen3_nothink": _QWEN,
    # The vision-language names render text exactly as their text-only counterparts (images are not trained).
    "qwen2_vl": replace(_QWEN, default_system="You are a helpful assistant."),
    "qwen3_vl": replace(_QWEN, reasoning=True),
    "qwen3_vl_nothink": _QWEN,
    "qwen3_5": replace(_QWEN35, reasoning=True),
    "qwen3_5_nothink": _QWEN35,
    "qwen3_6": replace(_QWEN35, reasoning=True),
    "vicuna": ChatFormat(
        user="USER: {{content}} ASSISTANT:", replace_jinja=True,
        default_system="A chat between a curious user and an artificial intelligence assistant. "
                       "The assistant gives helpful, detailed, and polite answers to the user's questions."),
    "yi": ChatFormat(**_CHATML, stop_words=("<|im_end|>",)),
}
