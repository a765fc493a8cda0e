"""llama.cpp's own tools: the HF→GGUF converter (fetched from the llama-cpp-python sdist) and the quantizer.

llama.cpp's code is not shipped with lmf-tui: the converter script, its `conversion/` package and its
`gguf-py` are taken once from the sdist of the installed llama-cpp-python and cached per version.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from ..rundir import cache_home

# Types the converter writes itself, and the k-quant/legacy types made from an f16 file by the quantizer.
CONVERTER_TYPES = ("f32", "f16", "bf16", "q8_0")
QUANT_TYPES = {
    "q4_0": "LLAMA_FTYPE_MOSTLY_Q4_0", "q4_1": "LLAMA_FTYPE_MOSTLY_Q4_1", "q5_0": "LLAMA_FTYPE_MOSTLY_Q5_0",
    "q5_1": "LLAMA_FTYPE_MOSTLY_Q5_1", "q2_k": "LLAMA_FTYPE_MOSTLY_Q2_K", "q3_k_s": "LLAMA_FTYPE_MOSTLY_Q3_K_S",
    "q3_k_m": "LLAMA_FTYPE_MOSTLY_Q3_K_M", "q3_k_l": "LLAMA_FTYPE_MOSTLY_Q3_K_L",
    "q4_k_s": "LLAMA_FTYPE_MOSTLY_Q4_K_S", "q4_k_m": "LLAMA_FTYPE_MOSTLY_Q4_K_M",
    "q5_k_s": "LLAMA_FTYPE_MOSTLY_Q5_K_S", "q5_k_m": "LLAMA_FTYPE_MOSTLY_Q5_K_M", "q6_k": "LLAMA_FTYPE_MOSTLY_Q6_K",
}
GGUF_TYPES = CONVERTER_TYPES + tuple(QUANT_TYPES)
SDIST_ROOT = "vendor/llama.cpp/"
CONVERTER_PARTS = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/gguf/")


class LlamaCppError(RuntimeError):
    """A llama.cpp tool is missing or failed; `str()` is one line for the user."""


def llama_cpp_version() -> str:
    """The installed llama-cpp-python version, or a one-line error saying how to install it."""
    try:
        return importlib.metadata.version("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError:
        raise LlamaCppError("GGUF export needs llama-cpp-python — run `make setup-chat` "
                            "(or `pip install 'lmf-tui[chat]'`), or remove export_gguf") from None


def converter_dir(version: str | None = None) -> Path:
    """The cached converter of this llama-cpp-python version, fetched from its sdist on first use."""
    version = version or llama_cpp_version()
    target = cache_home() / "llama.cpp" / version
    if not (target / "convert_hf_to_gguf.py").exists():
        fetch_converter(version, target)
    return target


def fetch_converter(version: str, target: Path) -> Path:
    """Download the llama-cpp-python sdist and extract only the converter, conversion/ and gguf-py."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lmf-sdist-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
               f"llama-cpp-python=={version}", "-d", tmp]
        result = subprocess.run(cmd, capture_output=True, text=True)
        archives = list(Path(tmp).glob("llama_cpp_python-*.tar.gz"))
        if result.returncode != 0 or not archives:
            last = (result.stderr.strip().splitlines() or ["no sdist downloaded"])[-1]
            raise LlamaCppError(f"cannot fetch llama.cpp's converter from the llama-cpp-python {version} sdist "
                                f"({last}) — check the network to PyPI")
        staging = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=target.parent))
        try:
            _extract_converter(archives[0], staging)
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            if not (target / "convert_hf_to_gguf.py").exists():
                raise
    return target


def _extract_converter(archive: Path, dest: Path) -> None:
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            _, _, inside = member.name.partition("/")
            if not inside.startswith(SDIST_ROOT) or not member.isfile():
                continue
            rel = inside[len(SDIST_ROOT):]
            if any(rel == part or rel.startswith(part) for part in CONVERTER_PARTS):
                member.name = rel
                tar.extract(member, dest, filter="data")
    if not (dest / "convert_hf_to_gguf.py").exists():
        raise LlamaCppError(f"{archive.name} holds no convert_hf_to_gguf.py — this llama-cpp-python version "
                            "cannot export GGUF; install another version")


def convert_to_gguf(model_dir: Path, outfile: Path, outtype: str, log: Path | None = None) -> Path:
    """Run llama.cpp's convert_hf_to_gguf.py on a Hugging Face folder (f32, f16, bf16 or q8_0)."""
    if outtype not in CONVERTER_TYPES:
        raise LlamaCppError(f"export_gguf: the converter writes {', '.join(CONVERTER_TYPES)}, not {outtype}")
    tools = converter_dir()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(tools / "gguf-py"), str(tools), *filter(None, [os.environ.get("PYTHONPATH")])]))
    cmd = [sys.executable, str(tools / "convert_hf_to_gguf.py"), str(model_dir), "--outfile", str(outfile),
           "--outtype", outtype]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if log is not None:
        log.write_text(result.stdout + result.stderr, encoding="utf-8")
    if result.returncode != 0 or not outfile.exists():
        raise LlamaCppError(f"llama.cpp's converter failed: {_last_error(result.stderr)}")
    return outfile


def quantize_gguf(source: Path, outfile: Path, qtype: str, threads: int = 0) -> Path:
    """Quantize a GGUF file (f16/bf16/f32) to a k-quant or legacy type with llama.cpp's quantizer."""
    if qtype not in QUANT_TYPES:
        raise LlamaCppError(f"export_gguf: {qtype} is not a quantization type — use one of {', '.join(QUANT_TYPES)}")
    try:
        import llama_cpp
    except ImportError:
        llama_cpp_version()
        raise
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, QUANT_TYPES[qtype])
    params.nthread = threads
    with _stdout_to_stderr():
        status = llama_cpp.llama_model_quantize(str(source).encode(), str(outfile).encode(), ctypes.byref(params))
    if status != 0 or not outfile.exists():
        raise LlamaCppError(f"llama.cpp's quantizer failed on {source.name} → {qtype} (status {status})")
    return outfile


@contextlib.contextmanager
def _stdout_to_stderr():
    """Send what C code prints on fd 1 to fd 2, so stdout stays JSON lines under --progress-jsonl."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _last_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line or "error" in line]
    return (errors or lines or ["no output"])[-1][:300]
