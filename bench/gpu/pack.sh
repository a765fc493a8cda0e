#!/usr/bin/env bash
# Downloads the wheels the GPU bench needs beyond the H200 image (torch, transformers, peft, accelerate,
# nvidia-ml-py, pyyaml, jinja2 are there) into bench/gpu/wheels/ (git-ignored; ~46 MB, carried to the device).
# The versions are this venv's; the platform is the device's (x86-64 Linux, CPython 3.12).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-python3}
version() { "$py" -c "import importlib.metadata as m; print(m.version('$1'))"; }
mkdir -p "$here/wheels"
"$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_24_x86_64 --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  -d "$here/wheels" \
  "bitsandbytes==$(version bitsandbytes)" "pydantic==$(version pydantic)" "pydantic-core==$(version pydantic_core)" \
  "annotated-types==$(version annotated-types)" "typing-inspection==$(version typing-inspection)" \
  "typing-extensions==$(version typing_extensions)" "platformdirs==$(version platformdirs)"
du -sh "$here/wheels"
