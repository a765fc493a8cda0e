"""Chat templates: named formats render as LLaMA-Factory renders them; the tokenizer's own goes through Jinja.

The expected strings below are written by hand from LLaMA-Factory's template definitions (its slots, default
system prompts, stop words, efficient_eos, reasoning and Llama-2-style system handling).
"""

import json
from datetime import datetime

import pytest

from engine.config import ConfigError, TrainConfig
from engine.data import IGNORE_INDEX
from engine.data.chat_formats import FORMATS
from engine.data.encode import encode_supervised
from engine.data.templates import TEMPLATE_NAMES, format_jinja, get_template
from tests.tiny import tiny_tokenizer

CHAT = [{"role": "user", "content": "What is 1+1?"}, {"role": "assistant", "content": "It is 2."},
        {"role": "user", "content": "Add them: 2 and 3."}, {"role": "assistant", "content": "5"}]
TOOLS = '[{"name": "weather", "description": "Weather of a city", "parameters": {"type": "object", ' \
        '"properties": {"city": {"type": "string", "description": "City name"}}, "required": ["city"]}}]'
TOOL_CHAT = [{"role": "user", "content": "Weather in Paris?"},
             {"role": "function", "content": '{"name": "weather", "arguments": {"city": "Paris"}}'},
             {"role": "observation", "content": '{"temp": 20}'},
             {"role": "assistant", "content": "It is 20 degrees."}]
EOS = "<|im_end|>"  # the tiny tokenizer's eos, kept by formats that do not replace it
IM = "<|im_start|>{}\n{}<|im_end|>\n"
Q1, A1, Q2, A2 = "What is 1+1?", "It is 2.", "Add them: 2 and 3.", "5"
THINK = "<think>\n\n</think>\n\n"
LLAMA3 = "<|start_header_id|>{}<|end_header_id|>\n\n{}<|eot_id|>"
GEMMA = ("<s><start_of_turn>user\nBe brief.\n\nWhat is 1+1?<end_of_turn>\n<start_of_turn>model\nIt is 2.<end_of_turn>\n"
         "<start_of_turn>user\nAdd them: 2 and 3.<end_of_turn>\n<start_of_turn>model\n5<end_of_turn>\n")
CHATML = (IM.format("system", "Be brief.") + IM.format("user", Q1) + "<|im_start|>assistant\n" + A1 + "<|im_end|>\n"
          + IM.format("user", Q2) + "<|im_start|>assistant\n" + A2 + "<|im_end|>\n")

# name -> (the whole conversation with system "Be brief.", the two trained answers)
RENDERED = {
    "qwen": (CHATML, ["It is 2.<|im_end|>\n", "5<|im_end|>\n"]),
    "qwen3_nothink": (CHATML, ["It is 2.<|im_end|>\n", "5<|im_end|>\n"]),
    "chatml": (CHATML, ["It is 2.<|im_end|>\n", "5<|im_end|>\n"]),
    "yi": (CHATML, ["It is 2.<|im_end|>\n", "5<|im_end|>\n"]),
    "intern2": ("<s>" + CHATML, ["It is 2.<|im_end|>\n", "5<|im_end|>\n"]),
    "qwen3": (CHATML.replace("assistant\n", "assistant\n" + THINK),
              [THINK + "It is 2.<|im_end|>\n", THINK + "5<|im_end|>\n"]),
    "llama3": ("<s>" + LLAMA3.format("system", "Be brief.") + LLAMA3.format("user", Q1)
               + "<|start_header_id|>assistant<|end_header_id|>\n\nIt is 2.<|eot_id|>" + LLAMA3.format("user", Q2)
               + "<|start_header_id|>assistant<|end_header_id|>\n\n5<|eot_id|>", ["It is 2.<|eot_id|>", "5<|eot_id|>"]),
    "gemma": (GEMMA, ["It is 2.<end_of_turn>\n", "5<end_of_turn>\n"]),
    "gemma3": (GEMMA, ["It is 2.<end_of_turn>\n", "5<end_of_turn>\n"]),
    # one eos ends the example; the label of the next prompt's first token is eos (LLaMA-Factory's efficient_eos)
    "gemma2": (GEMMA, ["It is 2.<end_of_turn>\n" + EOS, "5<end_of_turn>\n" + EOS]),
    "mistral": ("<s>[INST] Be brief.\n\nWhat is 1+1?[/INST] It is 2.<|im_end|>[INST] Add them: 2 and 3.[/INST] "
                "5<|im_end|>",
                [" It is 2.<|im_end|>", " 5<|im_end|>"]),
    "llama2": ("<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nWhat is 1+1? [/INST]It is 2.<|im_end|>"
               "<s>[INST] Add them: 2 and 3. [/INST]5<|im_end|>", ["It is 2.<|im_end|>", "5<|im_end|>"]),
    "phi": ("<|system|>\nBe brief.<|end|>\n<|user|>\nWhat is 1+1?<|end|>\n<|assistant|>\nIt is 2.<|end|>\n"
            "<|user|>\nAdd them: 2 and 3.<|end|>\n<|assistant|>\n5<|end|>\n", ["It is 2.<|end|>\n", "5<|end|>\n"]),
    "phi4": ("<|im_start|>system<|im_sep|>Be brief.<|im_end|><|im_start|>user<|im_sep|>What is 1+1?<|im_end|>"
             "<|im_start|>assistant<|im_sep|>It is 2.<|im_end|><|im_start|>user<|im_sep|>Add them: 2 and 3.<|im_end|>"
             "<|im_start|>assistant<|im_sep|>5<|im_end|>", ["It is 2.<|im_end|>", "5<|im_end|>"]),
    "deepseek": ("<s>Be brief.\n\nUser: What is 1+1?\n\nAssistant:It is 2.<|im_end|>User: Add them: 2 and 3.\n\n"
                 "Assistant:5<|im_end|>", ["It is 2.<|im_end|>", "5<|im_end|>"]),
    "deepseek3": ("<s>Be brief.<｜User｜>What is 1+1?<｜Assistant｜>It is 2.<|im_end|><｜User｜>"
                  "Add them: 2 and 3."
                  "<｜Assistant｜>5<|im_end|>", ["It is 2.<|im_end|>", "5<|im_end|>"]),
    "deepseekr1": ("<s>Be brief.<｜User｜>What is 1+1?<｜Assistant｜>" + THINK + "It is 2.<|im_end|><｜User｜>"
                   "Add them: 2 and 3.<｜Assistant｜>" + THINK + "5<|im_end|>",
                   [THINK + "It is 2.<|im_end|>", THINK + "5<|im_end|>"]),
    "glm4": ("[gMASK]<sop><|system|>\nBe brief.<|user|>\nWhat is 1+1?<|assistant|>\nIt is 2.<|user|>\n"
             "Add them: 2 and 3.<|assistant|>\n5", ["\nIt is 2." + EOS, "\n5" + EOS]),
    "baichuan2": ("Be brief.<reserved_106>What is 1+1?<reserved_107>It is 2.<reserved_106>Add them: 2 and 3."
                  "<reserved_107>5", ["It is 2." + EOS, "5" + EOS]),
    "alpaca": ("Be brief.### Instruction:\nWhat is 1+1?\n\n### Response:\nIt is 2.<|im_end|>\n\n### Instruction:\n"
               "Add them: 2 and 3.\n\n### Response:\n5<|im_end|>\n\n", ["It is 2.<|im_end|>\n\n", "5<|im_end|>\n\n"]),
    "vicuna": ("Be brief.USER: What is 1+1? ASSISTANT:It is 2.<|im_end|>USER: Add them: 2 and 3. ASSISTANT:5<|im_end|>",
               ["It is 2.<|im_end|>", "5<|im_end|>"]),
    "default": ("System: Be brief.<|im_end|>\nHuman: What is 1+1?<|im_end|>\nAssistant:It is 2.<|im_end|>\n"
                "Human: Add them: 2 and 3.<|im_end|>\nAssistant:5<|im_end|>\n",
                ["It is 2.<|im_end|>\n", "5<|im_end|>\n"]),
    "empty": ("Be brief.What is 1+1?It is 2.Add them: 2 and 3.5", ["It is 2.", "5"]),
}


def trained_spans(labels):
    """The runs of trained label ids."""
    spans, run = [], []
    for label in labels:
        if label == IGNORE_INDEX:
            if run:
                spans.append(run)
            run = []
        else:
            run.append(label)
    return spans + ([run] if run else [])


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_named_templates_render_and_train_as_llamafactory(name):
    tok = tiny_tokenizer()
    tpl = get_template(TrainConfig(template=name), tok)
    text, answers = RENDERED[name]
    assert tpl.render(CHAT, system="Be brief.") == text
    row = {"prompt": CHAT[:-1], "response": CHAT[-1:], "system": "Be brief.", "tools": ""}
    example, truncated = encode_supervised(row, tpl, tok, cutoff_len=1024)
    assert not truncated
    eos = EOS if tpl.efficient_eos else ""
    assert tok.decode(example["input_ids"]) == text + eos
    assert [tok.decode(s) for s in trained_spans(example["labels"])] == answers
    if tpl.efficient_eos:  # the eos label sits on the second prompt's first token, which stays in the input
        at = example["labels"].index(tok.eos_token_id)
        assert example["input_ids"][at] != tok.eos_token_id


def test_every_lmf_name_has_a_hand_derived_rendering():
    assert set(RENDERED) | {"qwen2_vl", "qwen3_vl", "qwen3_vl_nothink", "qwen3_5", "qwen3_5_nothink",
                            "qwen3_6", "phi4_mini"} == set(TEMPLATE_NAMES)


def test_each_slot_piece_is_tokenized_on_its_own():
    tok = tiny_tokenizer()
    tpl = get_template(TrainConfig(template="default"), tok)
    pairs = tpl.encode_turns(tok, CHAT[:2])
    enc = lambda s: tok.encode(s, add_special_tokens=False)  # noqa: E731
    eos = tok.eos_token_id
    assert pairs == [(enc("Human: What is 1+1?") + [eos] + enc("\nAssistant:"), enc("It is 2.") + [eos] + enc("\n"))]
    llama3 = get_template(TrainConfig(template="llama3"), tok)
    prompt, answer = llama3.encode_turns(tok, CHAT[:2], system="Be brief.")[0]
    assert prompt == [tok.bos_token_id] + enc(LLAMA3.format("system", "Be brief.")) + enc(
        LLAMA3.format("user", Q1) + "<|start_header_id|>assistant<|end_header_id|>\n\n")
    assert answer == enc("It is 2.<|eot_id|>")


def test_default_system_prompts_and_eos_replacement():
    tok = tiny_tokenizer()
    qwen = get_template(TrainConfig(template="qwen"), tok)
    assert qwen.render(CHAT[:1], add_generation_prompt=True) == (
        IM.format("system", "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.")
        + IM.format("user", Q1) + "<|im_start|>assistant\n")
    own = get_template(TrainConfig(template="qwen", default_system="Talk like a pirate."), tok)
    assert own.render(CHAT[:1]).startswith(IM.format("system", "Talk like a pirate."))
    vicuna = get_template(TrainConfig(template="vicuna"), tok)
    assert vicuna.render(CHAT[:1], add_generation_prompt=True) == (
        "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, "
        "detailed, and polite answers to the user's questions.USER: What is 1+1? ASSISTANT:")
    llama3 = get_template(TrainConfig(template="llama3"), tok)
    assert tok.eos_token == "<|eot_id|>" and llama3.stop_words == ["<|eot_id|>", "<|eom_id|>"]
    tok = tiny_tokenizer()
    assert get_template(TrainConfig(template="mistral"), tok).stop_words == [EOS] and tok.eos_token == EOS
    assert get_template(TrainConfig(template="chatml"), tok).stop_words == ["<|im_end|>", "<|im_start|>"]


def test_thinking_blocks():
    tok = tiny_tokenizer()
    msgs = [{"role": "user", "content": "Hi"}]
    think = get_template(TrainConfig(template="qwen3"), tok)
    nothink = get_template(TrainConfig(template="qwen3", enable_thinking=False), tok)
    assert think.render(msgs, add_generation_prompt=True).endswith("<|im_start|>assistant\n")
    assert nothink.render(msgs, add_generation_prompt=True).endswith("<|im_start|>assistant\n" + THINK)
    # qwen3_nothink is a plain format in LLaMA-Factory: no empty thought anywhere
    assert get_template(TrainConfig(template="qwen3_nothink"), tok).render(msgs, True).endswith("assistant\n")
    pairs = nothink.encode_turns(tok, msgs + [{"role": "assistant", "content": "Hello"}])
    assert tok.decode(pairs[0][0]).endswith(THINK) and tok.decode(pairs[0][1]) == "Hello<|im_end|>\n"
    pairs = think.encode_turns(tok, msgs + [{"role": "assistant", "content": "Hello"}])
    assert tok.decode(pairs[0][1]) == THINK + "Hello<|im_end|>\n"  # with thinking on the empty thought is trained
    reasoned = "<think>\nadd\n</think>\n\n2"
    chat = [CHAT[0], {"role": "assistant", "content": reasoned}, CHAT[2], {"role": "assistant", "content": reasoned}]
    full = tok.decode([t for p, a in think.encode_turns(tok, chat) for t in p + a])
    assert full.count("<think>\nadd\n</think>") == 2  # kept in every turn for training
    nothink_pairs = nothink.encode_turns(tok, chat)
    assert "add" not in tok.decode([t for p, a in nothink_pairs for t in p + a])  # thinking off drops reasoning
    last_only = think.encode_turns(tok, chat, mask_history=True)  # history reasoning dropped, the last kept
    assert tok.decode([t for p, a in last_only for t in p + a]).count("<think>\nadd") == 1
    prompt, answer = think.encode_oneturn(tok, chat)  # preference/chat prompt: history without reasoning
    assert "add" not in tok.decode(prompt) and tok.decode(answer) == reasoned + "<|im_end|>\n"
    keep = get_template(TrainConfig(template="qwen3", preserve_thinking=True), tok)
    assert "add" in tok.decode(keep.encode_oneturn(tok, chat)[0])


QWEN_TOOLS = ('\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided '
              'with function signatures within <tools></tools> XML tags:\n<tools>\n{"type": "function", "function": '
              '{"name": "weather", "description": "Weather of a city", "parameters": {"type": "object", '
              '"properties": {"city": {"type": "string", "description": "City name"}}, "required": ["city"]}}}\n'
              '</tools>\n\nFor each function call, return a json object with function name and arguments within '
              '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": '
              '<args-json-object>}\n</tool_call>')
DEFAULT_TOOLS = ("You have access to the following tools:\n> Tool Name: weather\nTool Description: Weather of a city\n"
                 "Tool Args:\n  - city (string, required): City name\n\nUse the following format if using a tool:\n"
                 "```\nAction: tool name (one of [weather])\nAction Input: the input to the tool, in a JSON format "
                 'representing the kwargs (e.g. ```{"input": "hello world", "num_beams": 5}```)\n```\n')


def test_tool_formats():
    tok = tiny_tokenizer()
    qwen = get_template(TrainConfig(template="qwen"), tok)
    assert qwen.render(TOOL_CHAT, system="Be brief.", tools=TOOLS) == (
        IM.format("system", "Be brief." + QWEN_TOOLS) + IM.format("user", "Weather in Paris?")
        + '<|im_start|>assistant\n<tool_call>\n{"name": "weather", "arguments": {"city": "Paris"}}\n</tool_call>'
        '<|im_end|>\n<|im_start|>user\n<tool_response>\n{"temp": 20}\n</tool_response><|im_end|>\n'
        "<|im_start|>assistant\nIt is 20 degrees.<|im_end|>\n")
    chatml = get_template(TrainConfig(template="chatml"), tok)
    assert chatml.render(TOOL_CHAT, tools=TOOLS) == (
        IM.format("system", DEFAULT_TOOLS) + IM.format("user", "Weather in Paris?")
        + '<|im_start|>assistant\nAction: weather\nAction Input: {"city": "Paris"}<|im_end|>\n'
        + IM.format("tool", '{"temp": 20}') + "<|im_start|>assistant\nIt is 20 degrees.<|im_end|>\n")
    llama3 = get_template(TrainConfig(template="llama3"), tiny_tokenizer())
    text = llama3.render(TOOL_CHAT, tools=TOOLS)
    today = datetime.now().strftime("%d %b %Y")
    assert text.startswith("<s><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
                           f"Today Date: {today}\n\n")
    assert ('<|start_header_id|>assistant<|end_header_id|>\n\n{"name": "weather", "parameters": {"city": "Paris"}}'
            '<|eot_id|><|start_header_id|>ipython<|end_header_id|>\n\n{"temp": 20}<|eot_id|>') in text
    mistral = get_template(TrainConfig(template="mistral"), tiny_tokenizer())
    assert mistral.render(TOOL_CHAT, tools=TOOLS) == (
        '<s>[INST] [AVAILABLE_TOOLS] [{"type": "function", "function": ' + json.dumps(json.loads(TOOLS)[0])
        + '}][/AVAILABLE_TOOLS]\n\nWeather in Paris?[/INST][TOOL_CALLS] [{"name": "weather", "arguments": '
        '{"city": "Paris"}}]<|im_end|>[TOOL_RESULTS] {"content": {"temp": 20}}[/TOOL_RESULTS] '
        'It is 20 degrees.<|im_end|>')
    glm4 = get_template(TrainConfig(template="glm4"), tiny_tokenizer())
    assert '<|assistant|>weather\n{"city": "Paris"}<|observation|>\n{"temp": 20}<|assistant|>\nIt is 20' in glm4.render(
        TOOL_CHAT, tools=TOOLS)
    phi4_mini = get_template(TrainConfig(template="phi4_mini"), tiny_tokenizer())
    assert phi4_mini.render(TOOL_CHAT[:1], tools=TOOLS).startswith(f"<|system|><|tool|>{TOOLS}<|/tool|><|end|>")
    override = get_template(TrainConfig(template="qwen", tool_format="default"), tiny_tokenizer())
    # LLaMA-Factory's tool_format swaps in its plain function slot: content and eos, no newline
    assert 'Action Input: {"city": "Paris"}<|im_end|><|im_start|>user\n' in override.render(TOOL_CHAT, tools=TOOLS)
    with pytest.raises(ConfigError, match="tool_format.*unknown tool format 'hermes'"):
        get_template(TrainConfig(template="qwen", tool_format="hermes"), tiny_tokenizer())


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_every_named_template_trains_tool_calls_and_answers(name):
    tok = tiny_tokenizer()
    tpl = get_template(TrainConfig(template=name), tok)
    pairs = tpl.encode_turns(tok, TOOL_CHAT, system="Be brief.", tools=TOOLS)
    assert len(pairs) == 2
    call, answer = tok.decode(pairs[0][1]), tok.decode(pairs[1][1])
    assert "weather" in call and "Paris" in call
    assert "It is 20 degrees." in answer and "Paris?" not in answer and "temp" not in answer
    assert "Be brief." in tok.decode(pairs[0][0]) and "weather" in tok.decode(pairs[0][0])


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_exported_jinja_renders_chat_prompts_as_the_template(name):
    tok = tiny_tokenizer(chat_template=None)
    tpl = get_template(TrainConfig(template=name, enable_thinking=False), tok)
    jinja = format_jinja(FORMATS[name], enable_thinking=False)
    assert tok.chat_template == jinja == tpl.jinja
    history = [{"role": "system", "content": "Be brief."}, CHAT[0],
               {"role": "assistant", "content": "<think>\nadd\n</think>\n\nIt is 2."}, CHAT[2]]
    expected = tpl.render(history, add_generation_prompt=True)
    assert tok.apply_chat_template(history, tokenize=False, add_generation_prompt=True) == expected
    assert tok.decode(tpl.prompt_ids(tok, history)) == expected
    assert tok.apply_chat_template(CHAT[:1], tokenize=False, add_generation_prompt=True) == tpl.render(CHAT[:1], True)


def test_tokenizer_jinja_is_kept_unless_the_format_replaces_it():
    tok = tiny_tokenizer()
    own = tok.chat_template
    assert get_template(TrainConfig(template="llama3"), tok).jinja == own == tok.chat_template
    assert get_template(TrainConfig(template="alpaca"), tok).jinja != own


def test_unknown_names_fall_back_to_the_tokenizer_template_with_a_note():
    tok = tiny_tokenizer()
    tpl = get_template(TrainConfig(template="moss_vl"), tok)
    assert tpl.name == "tokenizer" and tpl.note.startswith("template 'moss_vl' is not one lmf-tui knows")
    with pytest.raises(ConfigError, match="template 'moss_vl' is not one lmf-tui knows and the tokenizer"):
        get_template(TrainConfig(template="moss_vl"), tiny_tokenizer(chat_template=None))
    with pytest.raises(ConfigError, match="has no chat template.*alpaca, baichuan2"):
        get_template(TrainConfig(model_name_or_path="tiny"), tiny_tokenizer(chat_template=None))


def test_llamafactory_example_template_names_exist_or_fall_back():
    # every `template:` in LLaMA-Factory's examples/*.yaml (main branch)
    used = {"llama3", "qwen3_nothink", "qwen3_vl_nothink", "qwen", "moss_vl", "qwen3_vl", "qwen3", "qwen3_5_nothink",
            "qwen2_vl", "deepseek3", "qwen3_5", "llama2", "deepseek"}
    assert used - set(TEMPLATE_NAMES) == {"moss_vl"}  # multimodal-only: the tokenizer's own template


def test_train_on_prompt_with_one_eos_per_example_is_refused():
    with pytest.raises(ConfigError, match="train_on_prompt"):
        get_template(TrainConfig(template="glm4", train_on_prompt=True), tiny_tokenizer())


# ---- the tokenizer's own template ----------------------------------------------------------------------------

def expected_labels(tok, messages, system=None):
    """Labels built from apply_chat_template alone: answer spans found by rendering prefixes."""
    chat = ([{"role": "system", "content": system}] if system else []) + messages
    ids = tok.apply_chat_template(chat, tokenize=True, return_dict=False)
    labels = [IGNORE_INDEX] * len(ids)
    for i, message in enumerate(chat):
        if message["role"] != "assistant":
            continue
        start = len(tok.apply_chat_template(chat[:i], tokenize=True, return_dict=False, add_generation_prompt=True))
        end = len(tok.apply_chat_template(chat[:i + 1], tokenize=True, return_dict=False))
        labels[start:end] = ids[start:end]
    return ids, labels


def test_own_template_labels_match_apply_chat_template_with_prompt_masked():
    tok = tiny_tokenizer()
    tpl = get_template(TrainConfig(), tok)
    row = {"prompt": CHAT[:-1], "response": CHAT[-1:], "system": "Be brief.", "tools": ""}
    example, truncated = encode_supervised(row, tpl, tok, cutoff_len=1024)
    ids, labels = expected_labels(tok, CHAT, "Be brief.")
    assert not truncated and example["input_ids"] == ids and example["labels"] == labels
    assert tok.decode(tpl.prompt_ids(tok, CHAT[:1])) == tok.apply_chat_template(CHAT[:1], tokenize=False,
                                                                               add_generation_prompt=True)


def test_placeholders_stay_text():
    tok = tiny_tokenizer()
    for config in (TrainConfig(), TrainConfig(template="qwen")):
        tpl = get_template(config, tok)
        text = tpl.render([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "I am {{name}}."}])
        assert "I am {{name}}." in text


def test_own_template_without_tool_support_gets_tools_as_text():
    tok = tiny_tokenizer()  # plain chatml: no `tools`, no `tool_calls`
    tpl = get_template(TrainConfig(), tok)
    pairs = tpl.encode_turns(tok, TOOL_CHAT, tools=TOOLS)
    prompt = tok.decode(pairs[0][0])
    assert prompt.startswith("<|im_start|>system\n# Tools") and '"name": "weather"' in prompt
    assert tok.decode(pairs[0][1]) == ('<tool_call>\n{"name": "weather", "arguments": {"city": "Paris"}}\n'
                                       '</tool_call><|im_end|>\n')
    assert "<|im_start|>tool\n" in tok.decode(pairs[1][0])


def test_template_errors_become_row_drops():
    from engine.data.aligned import Unfit

    tok = tiny_tokenizer("{{ raise_exception('Conversation roles must alternate') }}")
    tpl = get_template(TrainConfig(), tok)
    with pytest.raises(Unfit, match="refuses the row.*must alternate"):
        tpl.encode_turns(tok, CHAT)
    named = get_template(TrainConfig(template="qwen"), tiny_tokenizer())
    with pytest.raises(Unfit, match="function call is not JSON"):
        named.encode_turns(tok, [TOOL_CHAT[0], {"role": "function", "content": "weather(Paris)"}])


def test_templates_that_rewrite_earlier_turns_still_mark_answers():
    # Like Qwen3's own template, this one renders the last answer differently from earlier ones.
    jinja = ("{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' }}"
             "{% if m['role'] == 'assistant' and loop.last %}{{ '<think>\\n\\n</think>\\n\\n' }}{% endif %}"
             "{{ m['content'] + '<|im_end|>\\n' }}{% endfor %}"
             "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
    tok = tiny_tokenizer(jinja)
    tpl = get_template(TrainConfig(), tok)
    pairs = tpl.encode_turns(tok, CHAT)
    assert [tok.decode(a) for _, a in pairs] == ["It is 2.<|im_end|>", "<think>\n\n</think>\n\n5<|im_end|>\n"]
    assert [i for p, a in pairs for i in p + a] == tok.apply_chat_template(CHAT, tokenize=True, return_dict=False)


def test_dry_run_names_the_template_it_will_use(tiny_model_dir, tiny_data_dir, tmp_path, capsys):
    from lmftui.cli import main

    path = tmp_path / "c.yaml"
    path.write_text(f"model_name_or_path: {tiny_model_dir}\ndo_train: true\ndataset: tiny_identity\n"
                    f"dataset_dir: {tiny_data_dir}\noutput_dir: {tmp_path / 'out'}\ntemplate: qwen3\n")
    assert main(["train", str(path), "--dry-run"]) == 0
    assert "template        qwen3 (LLaMA-Factory's layout; stops at <|im_end|>, thinking)" in capsys.readouterr().out
    assert main(["train", str(path), "--dry-run", "template=moss_vl"]) == 0
    assert "template        moss_vl is not one lmf-tui knows: the tokenizer's own" in capsys.readouterr().out
