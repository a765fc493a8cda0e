"""Chat templates: the tokenizer's own or a named one; encode_turns agrees with apply_chat_template."""

import pytest

from engine.config import ConfigError, TrainConfig
from engine.data import IGNORE_INDEX
from engine.data.encode import encode_supervised
from engine.data.templates import TEMPLATE_NAMES, get_template
from tests.fixtures.data.tiny_tokenizer import tiny_tokenizer

CHAT = [{"role": "user", "content": "What is 1+1?"}, {"role": "assistant", "content": "It is 2."},
        {"role": "user", "content": "Add them: 2 and 3."}, {"role": "assistant", "content": "5"}]
TOOLS = '[{"name": "weather", "description": "Weather of a city", "parameters": {"type": "object"}}]'
TOOL_CHAT = [{"role": "user", "content": "Weather in Paris?"},
             {"role": "function", "content": '{"name": "weather", "arguments": {"city": "Paris"}}'},
             {"role": "observation", "content": '{"temp": 20}'},
             {"role": "assistant", "content": "It is 20 degrees."}]


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


@pytest.mark.parametrize("template", [None, "chatml", "qwen", "llama3", "gemma", "phi", "qwen3_nothink"])
def test_labels_match_apply_chat_template_with_prompt_masked(template):
    tok = tiny_tokenizer()
    config = TrainConfig(template=template)
    tpl = get_template(config, tok)
    row = {"prompt": CHAT[:-1], "response": CHAT[-1:], "system": "Be brief.", "tools": ""}
    example, truncated = encode_supervised(row, tpl, tok, cutoff_len=1024)
    ids, labels = expected_labels(tok, CHAT, "Be brief.")
    assert not truncated
    assert example["input_ids"] == ids
    assert example["labels"] == labels
    trained = tok.decode([t for t in example["labels"] if t != IGNORE_INDEX])
    assert "It is 2." in trained and "5" in trained and "What is" not in trained


def test_named_template_is_set_on_the_tokenizer_and_has_stop_words():
    tok = tiny_tokenizer(chat_template=None)
    tpl = get_template(TrainConfig(template="llama3"), tok)
    assert tok.chat_template == tpl.jinja and tpl.stop_words == ["<|eot_id|>", "<|eom_id|>"]
    text = tpl.render([{"role": "user", "content": "Hi"}], add_generation_prompt=True)
    assert text == "<s><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>" \
                   "<|start_header_id|>assistant<|end_header_id|>\n\n"
    assert get_template(TrainConfig(template="chatml"), tok).stop_words == ["<|im_end|>"]
    assert get_template(TrainConfig(template="empty"), tok).stop_words == ["<|im_end|>"]  # eos


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_every_named_template_trains_tool_calls_and_answers(name):
    tok = tiny_tokenizer()
    tpl = get_template(TrainConfig(template=name), tok)
    pairs = tpl.encode_turns(tok, TOOL_CHAT, system="Be brief.", tools=TOOLS)
    assert len(pairs) == 2
    call, answer = tok.decode(pairs[0][1]), tok.decode(pairs[1][1])
    assert '"name": "weather"' in call and '"city": "Paris"' in call
    assert "It is 20 degrees." in answer and "Paris?" not in answer and "temp" not in answer
    prompt = tok.decode(pairs[0][0])
    assert "Be brief." in prompt and '"name": "weather"' in prompt  # system and tool list in the prompt
    ids = tok.apply_chat_template(tpl.chat_messages(TOOL_CHAT, "Be brief."), tools=[
        {"type": "function", "function": {"name": "weather", "description": "Weather of a city",
                                          "parameters": {"type": "object"}}}], tokenize=True, return_dict=False)
    assert [i for p, a in pairs for i in p + a] == ids


def test_default_system_and_thinking():
    tok = tiny_tokenizer()
    qwen = get_template(TrainConfig(template="qwen"), tok)
    assert "You are Qwen" in qwen.render([{"role": "user", "content": "Hi"}])
    own = get_template(TrainConfig(template="qwen", default_system="Talk like a pirate."), tok)
    text = own.render([{"role": "user", "content": "Hi"}])
    assert "pirate" in text and "You are Qwen" not in text
    think = get_template(TrainConfig(template="qwen3"), tok)
    nothink = get_template(TrainConfig(template="qwen3", enable_thinking=False), tok)
    msgs = [{"role": "user", "content": "Hi"}]
    assert "<think>" not in think.render(msgs, add_generation_prompt=True)
    assert nothink.render(msgs, add_generation_prompt=True).endswith("<think>\n\n</think>\n\n")
    assert get_template(TrainConfig(template="qwen3_nothink"), tok).render(msgs, True).endswith("</think>\n\n")
    pairs = nothink.encode_turns(tok, msgs + [{"role": "assistant", "content": "Hello"}])
    assert tok.decode(pairs[0][0]).endswith("<think>\n\n</think>\n\n")  # the empty thought is prompt, not trained
    assert tok.decode(pairs[0][1]) == "Hello<|im_end|>\n"


def test_no_chat_template_and_unknown_name_are_one_line_errors():
    tok = tiny_tokenizer(chat_template=None)
    with pytest.raises(ConfigError, match="has no chat template.*chatml, qwen"):
        get_template(TrainConfig(model_name_or_path="tiny"), tok)
    with pytest.raises(ConfigError, match="unknown template 'vicuna'.*llama3"):
        get_template(TrainConfig(template="vicuna"), tok)


def test_placeholders_stay_text():
    tok = tiny_tokenizer()
    tpl = get_template(TrainConfig(), tok)
    text = tpl.render([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "I am {{name}}."}])
    assert "I am {{name}}." in text


def test_template_without_tool_support_gets_tools_as_text():
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


def test_family_jinja_stands_alone_for_export_and_chat():
    from engine.data.templates import FAMILIES, build_jinja

    tok = tiny_tokenizer(chat_template=build_jinja(FAMILIES["qwen3_nothink"]))
    text = tok.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True)
    assert text == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
    tok.chat_template = build_jinja(FAMILIES["qwen3"])
    assert tok.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True,
                                   enable_thinking=False).endswith("</think>\n\n")


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
