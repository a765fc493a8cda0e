"""Where a transformers chat model runs: the freest CUDA GPU in bf16 (fp16 without bf16), MPS, or the CPU in fp32.

`choose_device` decides from plain facts (tested without a GPU); `local_facts` reads them from torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import ConfigError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")  # and cuda:N


@dataclass(frozen=True)
class GpuFacts:
    index: int
    free_gb: float
    bf16: bool


@dataclass(frozen=True)
class DeviceFacts:
    gpus: list[GpuFacts] = field(default_factory=list)
    mps: bool = False


@dataclass(frozen=True)
class ChatDevice:
    device: str  # "cuda:0", "mps" or "cpu"
    dtype: str  # torch dtype name: "bfloat16", "float16" or "float32"


def choose_device(requested: str, facts: DeviceFacts, infer_dtype: str = "auto") -> ChatDevice:
    """The device and dtype for `--device requested` (auto: the GPU with the most free memory)."""
    requested = (requested or "auto").lower()
    if requested == "cpu" or (requested == "auto" and not facts.gpus and not facts.mps):
        return ChatDevice("cpu", infer_dtype if infer_dtype != "auto" else "float32")
    if requested == "mps" or (requested == "auto" and not facts.gpus):
        if not facts.mps:
            raise ConfigError("--device mps: this machine has no Apple GPU — use --device auto or cpu")
        return ChatDevice("mps", infer_dtype if infer_dtype != "auto" else "float16")
    if requested != "auto" and not requested.startswith("cuda"):
        raise ConfigError(f"--device {requested}: not a device — use auto, cpu, cuda, cuda:N or mps")
    if not facts.gpus:
        raise ConfigError(f"--device {requested}: no CUDA GPU is visible — use --device auto or cpu")
    if requested in ("auto", "cuda"):
        gpu = max(facts.gpus, key=lambda g: g.free_gb)
    else:
        index = requested.partition(":")[2]
        gpu = next((g for g in facts.gpus if str(g.index) == index), None)
        if gpu is None:
            raise ConfigError(f"--device {requested}: no such GPU — choose one of "
                              + ", ".join(f"cuda:{g.index}" for g in facts.gpus))
    dtype = infer_dtype if infer_dtype != "auto" else ("bfloat16" if gpu.bf16 else "float16")
    return ChatDevice(f"cuda:{gpu.index}", dtype)


def local_facts() -> DeviceFacts:
    """The GPUs torch sees here, with their free memory and bf16 support."""
    import torch

    gpus = []
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            free, _total = torch.cuda.mem_get_info(index)
            major, _minor = torch.cuda.get_device_capability(index)
            gpus.append(GpuFacts(index, free / 2**30, major >= 8))
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    return DeviceFacts(gpus, mps)


def llama_cpp_gpu_layers(requested: str) -> int:
    """n_gpu_layers for llama.cpp: every layer (-1) when it was built with GPU offload and the GPU is wanted."""
    if (requested or "auto").lower() == "cpu":
        return 0
    import llama_cpp

    return -1 if llama_cpp.llama_supports_gpu_offload() else 0
