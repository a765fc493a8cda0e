"""Ollama Modelfiles: the GGUF file, a Go TEMPLATE for the model's chat format, stop tokens and SYSTEM."""

from __future__ import annotations

from ..data.templates import Template, format_go

# Go templates (Ollama's `.Messages` form) for a tokenizer's own Jinja template; each ends by opening the
# assistant's turn. Named formats get theirs from their slots (`format_go`).
GO_TEMPLATES = {
    "chatml": (
        "{{- if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
        "{{- range .Messages }}{{ if ne .Role \"system\" }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n"
        "{{ end }}{{ end }}<|im_start|>assistant\n"
    ),
    "llama3": (
        "{{- if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>{{ end }}"
        "{{- range .Messages }}{{ if ne .Role \"system\" }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n"
        "{{ .Content }}<|eot_id|>{{ end }}{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n"
    ),
    "gemma": (
        "{{- range $i, $m := .Messages }}{{ if eq $m.Role \"user\" }}<start_of_turn>user\n"
        "{{ if and $.System (eq $i 0) }}{{ $.System }}\n\n{{ end }}{{ $m.Content }}<end_of_turn>\n"
        "{{ else if eq $m.Role \"assistant\" }}<start_of_turn>model\n{{ $m.Content }}<end_of_turn>\n"
        "{{ end }}{{ end }}<start_of_turn>model\n"
    ),
    "phi": (
        "{{- if .System }}<|system|>\n{{ .System }}<|end|>\n{{ end }}"
        "{{- range .Messages }}{{ if ne .Role \"system\" }}<|{{ .Role }}|>\n{{ .Content }}<|end|>\n"
        "{{ end }}{{ end }}<|assistant|>\n"
    ),
}
MARKERS = (("<|im_start|>", "chatml"), ("<|start_header_id|>", "llama3"), ("<start_of_turn>", "gemma"),
           ("<|assistant|>", "phi"))


def chat_format(jinja: str | None) -> str | None:
    """The Go-template format of a tokenizer's own Jinja template, by its marker tokens."""
    for marker, name in MARKERS:
        if jinja and marker in jinja:
            return name
    return None


def go_template(template: Template) -> str | None:
    """The Go TEMPLATE of a chat template: built from a named format's slots, else by the Jinja's markers."""
    return format_go(template) or GO_TEMPLATES.get(chat_format(template.jinja) or "")


def modelfile_text(gguf_name: str, go_text: str | None, stop_words: list[str], system: str | None = None) -> str:
    """A Modelfile for a GGUF beside it: FROM, TEMPLATE (when known), stop PARAMETERs, SYSTEM."""
    lines = [f"FROM ./{gguf_name}", ""]
    if go_text:
        lines += [f'TEMPLATE """{go_text}"""', ""]
    lines += [f"PARAMETER stop {_quote(word)}" for word in dict.fromkeys(stop_words)]
    if system:
        lines += ["", f'SYSTEM """{system}"""']
    return "\n".join(lines) + "\n"


def _quote(word: str) -> str:
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
