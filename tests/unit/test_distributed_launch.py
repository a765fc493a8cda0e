"""The launch plan from LLaMA-Factory's switches, the strategy keys, and their one-line refusals (no torch)."""

from __future__ import annotations

import json
import socket

import pytest

from engine.config import ConfigError, TrainConfig, check_config, parse_config
from engine.distributed import plan_launch, strategy_of
from engine.distributed.launch import show_command
from engine.distributed.strategy import DEEPSPEED_NAMES, deepspeed_missing, load_deepspeed, require_deepspeed


def config(**keys) -> TrainConfig:
    return TrainConfig(**({"finetuning_type": "lora"} | keys))


def refusal(fn, *args, **kw) -> str:
    with pytest.raises(ConfigError) as info:
        fn(*args, **kw)
    message = str(info.value)
    assert "\n" not in message and " — " in message  # one line: what is wrong — how to fix it
    return message


def test_one_process_unless_asked():
    assert plan_launch(config(), gpus=0, env={}) is None
    assert plan_launch(config(), gpus=1, env={}) is None
    assert plan_launch(config(), gpus=2, env={"LOCAL_RANK": "0"}) is None  # already a rank
    assert plan_launch(config(), gpus=4, env={"LMF_TUI_SINGLE_PROCESS": "1"}) is None


def test_several_gpus_launch_ddp_on_each():
    plan = plan_launch(config(), gpus=4, env={})
    assert (plan.nproc_per_node, plan.nnodes, plan.world_size, plan.device) == (4, 1, 4, "cuda")
    assert plan.strategy.name == "ddp" and plan.backend == "nccl" and 0 < plan.master_port < 65536
    assert plan.summary().startswith("DDP, 4 GPUs = world size 4, nccl at 127.0.0.1:")


def test_force_torchrun_on_the_cpu_runs_gloo_ranks():
    plan = plan_launch(config(), gpus=0, env={"FORCE_TORCHRUN": "1", "NPROC_PER_NODE": "2"})
    assert (plan.nproc_per_node, plan.device, plan.backend) == (2, "cpu", "gloo")
    command = show_command(plan, ["train", "my.yaml"])
    assert "-m torch.distributed.run --nnodes=1 --node_rank=0 --nproc_per_node=2 --master_addr=127.0.0.1" in command
    assert command.endswith("-m engine train my.yaml")
    assert plan_launch(config(), gpus=0, env={"FORCE_TORCHRUN": "true"}).nproc_per_node == 1
    assert plan_launch(config(use_cpu=True), gpus=2, env={"FORCE_TORCHRUN": "y"}).device == "cpu"


def test_multi_node_switches_as_llamafactory_documents_them():
    env = {"FORCE_TORCHRUN": "1", "NNODES": "2", "NODE_RANK": "0", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(_free_port()), "NPROC_PER_NODE": "1"}
    plan = plan_launch(config(), gpus=1, env=env)
    assert (plan.nnodes, plan.node_rank, plan.world_size, plan.master_port) == (2, 0, 2, int(env["MASTER_PORT"]))
    assert "× 2 nodes (this is node 0)" in plan.summary()
    one_gpu_per_node = plan_launch(config(), gpus=1, env={**env, "FORCE_TORCHRUN": "", "NPROC_PER_NODE": ""})
    assert one_gpu_per_node.nproc_per_node == 1  # NNODES alone launches, even with one GPU per node
    assert plan_launch(config(), gpus=1, env={**env, "NODE_RANK": "1"}).node_rank == 1  # node 0 answers


def test_bad_launch_switches_fail_in_one_line():
    assert "NPROC_PER_NODE: 4 processes but 2 GPUs visible (CUDA_VISIBLE_DEVICES=0,1)" in refusal(
        plan_launch, config(), 2, {"NPROC_PER_NODE": "4", "CUDA_VISIBLE_DEVICES": "0,1"})
    assert refusal(plan_launch, config(), 2, {"NPROC_PER_NODE": "two"}).startswith("NPROC_PER_NODE: 'two'")
    assert refusal(plan_launch, config(), 1, {"NNODES": "2", "NODE_RANK": "2"}).startswith("NODE_RANK: 2 is not below")
    assert refusal(plan_launch, config(), 1, {"NNODES": "0"}).startswith("NNODES:")
    assert refusal(plan_launch, config(), 2, {"MASTER_PORT": "70000"}).startswith("MASTER_PORT: 70000")
    assert refusal(plan_launch, config(), 2, {"MASTER_ADDR": "no-such-host.invalid"}).startswith(
        "MASTER_ADDR: cannot resolve 'no-such-host.invalid'")
    # node 0 hosts the rendezvous on every interface: its port must be free; MASTER_ADDR may be a NAT address
    assert plan_launch(config(), 1, {"NNODES": "2", "MASTER_ADDR": "192.0.2.1",
                                     "MASTER_PORT": str(_free_port())}).node_rank == 0
    with socket.socket() as taken:
        taken.bind(("", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        assert refusal(plan_launch, config(), 2, {"MASTER_PORT": port}).startswith(f"MASTER_PORT: port {port} is already")


def test_another_node_refuses_a_master_that_does_not_answer():
    with socket.socket() as master, socket.socket() as first:
        master.bind(("127.0.0.1", 0))
        master.listen(0)
        port = master.getsockname()[1]
        first.connect(("127.0.0.1", port))  # fills the backlog: the next connection is never answered
        env = {"NNODES": "2", "NODE_RANK": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
        assert refusal(plan_launch, config(), 1, env).startswith(f"MASTER_ADDR: 127.0.0.1:{port} did not answer")
    # a refused connection is a node 0 that is not up yet: this node may start first
    assert plan_launch(config(), 1, {**env, "MASTER_PORT": str(_free_port())}).node_rank == 1


def test_deepspeed_short_names_are_shipped_configs():
    stages = {name: (load_deepspeed(name)["zero_optimization"]["stage"], strategy_of(config(deepspeed=name)).name)
              for name in DEEPSPEED_NAMES}
    assert stages == {"z0": (0, "zero0"), "z2": (2, "zero2"), "z2_offload": (2, "zero2_offload"),
                      "z3": (3, "zero3"), "z3_offload": (3, "zero3_offload")}
    ds = load_deepspeed("z3_offload")
    assert ds["train_micro_batch_size_per_gpu"] == "auto" and ds["zero_optimization"]["offload_param"]["device"] == "cpu"


def test_deepspeed_by_path_and_its_refusals(tmp_path):
    good = tmp_path / "ds.json"
    good.write_text(json.dumps({"zero_optimization": {"stage": 1}}))
    assert strategy_of(config(deepspeed=str(good))).name == "zero1"
    assert refusal(load_deepspeed, str(tmp_path / "nope.json")).startswith("deepspeed: no file at")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert refusal(load_deepspeed, str(bad)).startswith(f"deepspeed: '{bad}' is not valid JSON")
    four = tmp_path / "four.json"
    four.write_text(json.dumps({"zero_optimization": {"stage": 4}}))
    assert refusal(load_deepspeed, str(four)).startswith("deepspeed: unknown ZeRO stage 4")
    # the same words from the config rules, so the CLI and the Config editor agree
    problems = check_config(config(deepspeed=str(four)))
    assert [p.fields for p in problems] == [("deepspeed",)]
    with pytest.raises(ConfigError, match="^deepspeed: no file at 'z9'"):
        parse_config({"finetuning_type": "lora", "deepspeed": "z9"})


def test_deepspeed_missing_is_a_clear_refusal():
    if deepspeed_missing():
        assert "pip install 'lmf-tui[deepspeed]'" in refusal(require_deepspeed, config(deepspeed="z2"))
        assert "DeepSpeed is not installed" in refusal(plan_launch, config(deepspeed="z3"), 2, {})
    else:
        require_deepspeed(config(deepspeed="z2"))
    require_deepspeed(config())  # nothing asked, nothing needed


def test_sharding_needs_gpus_rather_than_falling_back_to_ddp():
    assert "DeepSpeed ZeRO needs CUDA GPUs" in refusal(plan_launch, config(deepspeed="z2"), 0, {})
    # accelerate applies FSDP to CUDA ranks only: CPU ranks would quietly run DDP, so they are refused
    message = refusal(plan_launch, config(fsdp="full_shard auto_wrap"), 0, {"FORCE_TORCHRUN": "1"})
    assert message.startswith("fsdp: FSDP2 (through accelerate) shards across CUDA GPUs only")
    assert refusal(plan_launch, config(fsdp=True, use_cpu=True), 2, {}).startswith("fsdp: FSDP2")
    assert plan_launch(config(fsdp=True), 2, {}).strategy.name == "fsdp"


def test_fsdp_from_the_trainer_keys_and_from_an_accelerate_file(tmp_path):
    assert strategy_of(config(fsdp="full_shard auto_wrap")).name == "fsdp"
    assert strategy_of(config(fsdp=True, fsdp_config={"fsdp_offload_params": False})).name == "fsdp"
    assert strategy_of(config(fsdp="full_shard auto_wrap offload")).name == "fsdp_offload"
    accelerate = tmp_path / "fsdp2_config.yaml"  # LLaMA-Factory's examples/accelerate layout
    accelerate.write_text("compute_environment: LOCAL_MACHINE\ndistributed_type: FSDP\nfsdp_config:\n"
                          "  fsdp_auto_wrap_policy: TRANSFORMER_BASED_WRAP\n  fsdp_offload_params: true\n"
                          "  fsdp_reshard_after_forward: true\n  fsdp_version: 2\nnum_machines: 1\nnum_processes: 2\n")
    from_file = config(fsdp_config=str(accelerate))
    assert strategy_of(from_file).name == "fsdp_offload"
    plan = plan_launch(from_file, gpus=4, env={})
    assert plan.nproc_per_node == 2 and plan.strategy.label == "FSDP2 + CPU offload"  # num_processes / num_machines
    ddp = tmp_path / "ddp.yaml"
    ddp.write_text("distributed_type: MULTI_GPU\nnum_processes: 2\n")
    assert "not FSDP" in refusal(strategy_of, config(fsdp_config=str(ddp)))
    assert strategy_of(config(fsdp_config={"version": 2})).name == "ddp"  # options alone do not turn FSDP on


def test_fsdp_refuses_what_it_cannot_shard():
    problems = {str(p) for p in check_config(config(fsdp="full_shard", quantization_bit=8))}
    assert any(p.startswith("fsdp, quantization_bit: FSDP cannot shard 8-bit") for p in problems)
    assert not check_config(config(fsdp="full_shard", quantization_bit=4))  # QLoRA with FSDP2
    assert any("pick one" in str(p) for p in check_config(config(fsdp=True, deepspeed="z2")))
    assert any(str(p).startswith("fsdp_config: only FSDP2")
               for p in check_config(config(fsdp=True, fsdp_config={"fsdp_version": 1})))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_qlora_with_fsdp_or_zero3_stores_4bit_codes_in_the_compute_dtype():
    pytest.importorskip("bitsandbytes")
    import torch

    from engine.models.loader import quantization_config

    plain = quantization_config(config(quantization_bit=4, bf16=True))
    sharded = quantization_config(config(quantization_bit=4, bf16=True, fsdp="full_shard auto_wrap"))
    assert plain.bnb_4bit_quant_storage == torch.uint8 and sharded.bnb_4bit_quant_storage == torch.bfloat16
    assert quantization_config(config(quantization_bit=4, bf16=True, deepspeed="z3")).bnb_4bit_quant_storage == (
        torch.bfloat16)


def test_dry_run_prints_the_launch_command_and_the_per_gpu_estimate(tiny_data_dir, tmp_path, monkeypatch, capsys):
    from pathlib import Path

    from lmftui.cli import main

    model = Path(__file__).resolve().parents[1] / "fixtures" / "hardware" / "models" / "llama-3-8b"
    args = ["train", str(tmp_path / "x.yaml"), "--dry-run"]
    (tmp_path / "x.yaml").write_text(f"model_name_or_path: {model}\ndo_train: true\ndataset: tiny_identity\n"
                                     f"dataset_dir: {tiny_data_dir}\noutput_dir: {tmp_path / 'run'}\n"
                                     "finetuning_type: full\nbf16: true\n")
    for key in ("NNODES", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT", "CUDA_VISIBLE_DEVICES"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("FORCE_TORCHRUN", "1")
    monkeypatch.setenv("NPROC_PER_NODE", "2")
    assert main(args) == 0
    out = capsys.readouterr().out
    launch = next(line for line in out.splitlines() if line.startswith("launch"))
    assert "DDP, 2 " in launch and "world size 2" in launch
    command = next(line for line in out.splitlines() if line.startswith("command"))
    assert "torch.distributed.run" in command and "--nproc_per_node=2" in command
    assert command.endswith(f"-m engine train {tmp_path / 'x.yaml'}")  # what each rank runs
    assert next(line for line in out.splitlines() if line.startswith("memory")).split()[2] == "GB"
    monkeypatch.setenv("NPROC_PER_NODE", "zero")
    assert main(args) == 2
    assert capsys.readouterr().err.strip().startswith("error: NPROC_PER_NODE: 'zero' is not a whole number")
