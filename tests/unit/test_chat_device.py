"""Chat device choice: the freest CUDA GPU in bf16 (fp16 without it), MPS, else the CPU in fp32; clear errors."""

from __future__ import annotations

import pytest

from engine.chat.device import ChatDevice, DeviceFacts, GpuFacts, choose_device, local_facts
from engine.config import ConfigError

TWO_GPUS = DeviceFacts([GpuFacts(0, free_gb=2.0, bf16=True), GpuFacts(1, free_gb=70.0, bf16=True)])


def test_auto_takes_the_gpu_with_the_most_free_memory_in_bf16() -> None:
    assert choose_device("auto", TWO_GPUS) == ChatDevice("cuda:1", "bfloat16")
    assert choose_device("cuda", TWO_GPUS) == ChatDevice("cuda:1", "bfloat16")
    assert choose_device("cuda:0", TWO_GPUS) == ChatDevice("cuda:0", "bfloat16")


def test_fp16_without_bf16_and_infer_dtype_wins() -> None:
    old = DeviceFacts([GpuFacts(0, 10.0, bf16=False)])
    assert choose_device("auto", old) == ChatDevice("cuda:0", "float16")
    assert choose_device("auto", old, infer_dtype="float32") == ChatDevice("cuda:0", "float32")


def test_cpu_and_mps() -> None:
    assert choose_device("auto", DeviceFacts()) == ChatDevice("cpu", "float32")
    assert choose_device("cpu", TWO_GPUS) == ChatDevice("cpu", "float32")
    assert choose_device("auto", DeviceFacts(mps=True)) == ChatDevice("mps", "float16")


@pytest.mark.parametrize("requested, facts, words", [
    ("cuda", DeviceFacts(), "no CUDA GPU"), ("cuda:5", TWO_GPUS, "cuda:0, cuda:1"),
    ("mps", DeviceFacts(), "no Apple GPU"), ("tpu", TWO_GPUS, "not a device"),
])
def test_impossible_choices_fail_in_one_line(requested, facts, words) -> None:
    with pytest.raises(ConfigError, match=words):
        choose_device(requested, facts)


def test_this_machine_is_read_from_torch() -> None:
    import torch

    facts = local_facts()
    assert len(facts.gpus) == (torch.cuda.device_count() if torch.cuda.is_available() else 0)
    expected = "cpu" if not facts.gpus and not facts.mps else ("mps" if not facts.gpus else "cuda")
    assert choose_device("auto", facts).device.startswith(expected)


def test_llama_cpp_offloads_every_layer_only_when_built_for_a_gpu() -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    from engine.chat.device import llama_cpp_gpu_layers

    assert llama_cpp_gpu_layers("cpu") == 0
    assert llama_cpp_gpu_layers("auto") == (-1 if llama_cpp.llama_supports_gpu_offload() else 0)
