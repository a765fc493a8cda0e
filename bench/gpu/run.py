"""The GPU bench (issue 15): LoRA, QLoRA 4-bit and full fine-tuning through lmf-tui's training path beside the
HF Trainer's padded + gradient-checkpointed path (LLaMA-Factory's default), on randomly initialised models of
real config.json shapes, with peak VRAM (torch and NVML) beside the estimator's figure; then chat tokens/s.

    python bench/gpu/run.py --out OUT            # on a GPU: the plan below, within --budget seconds
    python bench/gpu/run.py --dry --out OUT      # on the CPU: tiny shapes, the same code, under a minute

Results go to OUT/results.json after every part (atomically) and OUT/results.md at the end. A part already in
results.json (or in --resume FILE) is not run again, so a second call finishes what the first did not.
Parts run in one child process per model shape; a part that fails (out of memory …) is recorded and the
next one runs. Nothing here estimates a measured number: a part not run says so.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

GB = 2**30
SHAPES = ("llama-3-8b", "qwen2.5-1.5b", "llama-3.2-3b")  # most telling first: the 8B presets' claims
SHARE = {"llama-3-8b": 0.45, "qwen2.5-1.5b": 0.25, "llama-3.2-3b": 0.3}  # of the budget, by model size
TINY = {
    "tiny-llama": {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                   "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 512,
                   "max_position_embeddings": 512, "tie_word_embeddings": False},
}
IGNORE = -100


@dataclass(frozen=True)
class Part:
    """One measurement: `train` (method × seq through `path`), `chat` or `llamacpp`."""

    name: str
    kind: str
    shape: str
    method: str = ""
    seq: int = 0
    path: str = "lmf"  # lmf: lmf-tui's defaults; lmf-pf / lmf-nogc: with padding_free on / checkpointing off;
    # hf: HF Trainer, padded batches, gradient checkpointing (LLaMA-Factory's default path)


@dataclass(frozen=True)
class Sizes:
    batch: int
    warmup: int
    timed: int
    new_tokens: int
    seqs: tuple[int, int]


GPU_SIZES = Sizes(batch=4, warmup=2, timed=5, new_tokens=128, seqs=(512, 2048))
DRY_SIZES = Sizes(batch=2, warmup=1, timed=2, new_tokens=8, seqs=(32, 64))
SKIP = {("llama-3-8b", "full"): "8B full fine-tuning needs ~129 GB for weights, gradients and AdamW before "
                                "activations: a ZeRO-3 run over several GPUs, not one H200"}


def plan(dry: bool) -> list[Part]:
    """The parts in the order they run: per shape, lmf-tui and the baseline at the long cutoff for each
    method first (the ratio and the estimate's error), then the short cutoff, chat, and the candidate defaults."""
    sizes = DRY_SIZES if dry else GPU_SIZES
    short, long = sizes.seqs
    parts: list[Part] = []
    for shape in (tuple(TINY) if dry else SHAPES):
        for method in ("lora", "qlora", "full"):
            parts += [Part(f"{shape}/{method}/{long}/{path}", "train", shape, method, long, path)
                      for path in ("lmf", "hf")]
        parts += [Part(f"{shape}/{method}/{short}/lmf", "train", shape, method, short) for method in
                  ("lora", "qlora", "full")]
        if shape in ("qwen2.5-1.5b", "llama-3-8b", "tiny-llama"):
            parts.append(Part(f"{shape}/chat", "chat", shape))
        parts += [Part(f"{shape}/lora/{long}/{path}", "train", shape, "lora", long, path)
                  for path in ("lmf-pf", "lmf-nogc")]  # what lmf-tui's defaults could change to
    parts.append(Part("llama.cpp/chat", "llamacpp", ""))
    return parts


# ---- results file ------------------------------------------------------------------------------------------

def load_results(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def save_result(path: Path, record: dict[str, Any]) -> None:
    """Add one part's record to the results file (written to a temp file, then renamed over it)."""
    results = load_results(path)
    results[record["part"]] = record
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=1, sort_keys=True))
    os.replace(tmp, path)


def finished(record: dict[str, Any] | None) -> bool:
    return bool(record) and record.get("status") in ("ok", "not run")


# ---- the model folder of a shape ---------------------------------------------------------------------------

def shape_config(shape: str) -> dict[str, Any]:
    return dict(TINY[shape]) if shape in TINY else json.loads((HERE / "shapes" / f"{shape}.json").read_text())


def model_folder(shape: str, work: Path, cuda: bool) -> Path:
    """A folder holding the shape's config.json and random weights (bf16 on a GPU), made once."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    folder = work / "models" / shape
    if (folder / "config.json").exists():
        return folder
    config = shape_config(shape)
    hf_config = AutoConfig.for_model(**config)
    torch.manual_seed(0)
    with torch.device("cuda" if cuda else "cpu"):
        model = AutoModelForCausalLM.from_config(hf_config, dtype=torch.bfloat16 if cuda else torch.float32)
    tmp = folder.with_name(folder.name + ".tmp")
    model.save_pretrained(tmp)
    small_tokenizer().save_pretrained(tmp)  # the loader reads one; its few tokens never resize the model
    del model
    os.replace(tmp, folder)
    return folder


def small_tokenizer():
    """A byte-level BPE tokenizer of a few hundred tokens, built in memory (the rows are made of ids)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(["the GPU bench of lmf-tui"] * 4, trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>")


# ---- memory and timing --------------------------------------------------------------------------------------

class NvmlPeak:
    """Polls NVML's used memory of GPU 0 every 20 ms while open; `peak_gb` is the largest reading."""

    def __init__(self) -> None:
        self.peak = self.before = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        try:
            import pynvml

            pynvml.nvmlInit()
            first = os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0].strip()
            self._handle = (pynvml.nvmlDeviceGetHandleByUUID(first) if first.startswith(("GPU-", "MIG-"))
                            else pynvml.nvmlDeviceGetHandleByIndex(int(first or 0)))
            self._nvml = pynvml
        except Exception:  # no NVML (CPU dry run, no driver): the readings stay None
            self._nvml = None

    def _used(self) -> int:
        return self._nvml.nvmlDeviceGetMemoryInfo(self._handle).used

    def __enter__(self) -> NvmlPeak:
        if self._nvml is not None:
            self.before = self.peak = self._used()
            self._thread = threading.Thread(target=self._poll, daemon=True)
            self._thread.start()
        return self

    def _poll(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._used())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self.peak = max(self.peak, self._used())

    def gb(self, value: int | None) -> float | None:
        return None if value is None else round(value / GB, 3)


def step_timer(warmup: int, cuda: bool, count_tokens):
    """A TrainerCallback timing the steps after `warmup`; `count_tokens()` is the running real-token count."""
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.start: float | None = None
            self.tokens0 = 0
            self.seconds = 0.0
            self.tokens = 0
            self.steps = 0

        def _sync(self) -> None:
            if cuda:
                import torch

                torch.cuda.synchronize()

        def on_step_begin(self, args, state, control, **kwargs):
            if state.global_step == warmup:
                self._sync()
                self.start, self.tokens0 = time.perf_counter(), count_tokens()

        def on_step_end(self, args, state, control, **kwargs):
            if self.start is not None:
                self._sync()
                self.seconds = time.perf_counter() - self.start
                self.tokens = count_tokens() - self.tokens0
                self.steps = state.global_step - warmup

    return StepTimer()


# ---- training parts -----------------------------------------------------------------------------------------

def synthetic_rows(n: int, seq: int, vocab: int, seed: int) -> list[dict[str, list[int]]]:
    """Chat-like rows: lengths spread over [seq/4, seq], the first quarter of each a masked prompt."""
    import random

    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        length = rng.randint(seq // 4, seq)
        ids = [rng.randrange(10, vocab) for _ in range(length)]
        prompt = length // 4
        rows.append({"input_ids": ids, "attention_mask": [1] * length, "labels": [IGNORE] * prompt + ids[prompt:]})
    return rows


def lmf_config(part: Part, folder: Path, work: Path, sizes: Sizes, dry: bool):
    from engine.config import TrainConfig

    return TrainConfig(
        model_name_or_path=str(folder), stage="sft", do_train=True,
        finetuning_type="full" if part.method == "full" else "lora", lora_rank=8, lora_target="all",
        quantization_bit=4 if part.method == "qlora" else None, cutoff_len=part.seq,
        per_device_train_batch_size=sizes.batch, gradient_accumulation_steps=1, learning_rate=1e-5,
        max_steps=sizes.warmup + sizes.timed, output_dir=str(work / "run"), save_strategy="no",
        logging_steps=1000, report_to="none", use_cpu=dry, padding_free=True if part.path == "lmf-pf" else None,
        disable_gradient_checkpointing=True if part.path == "lmf-nogc" else None)


def train_lmf(part: Part, folder: Path, work: Path, sizes: Sizes, dry: bool) -> dict[str, Any]:
    """lmf-tui's path: its loader, method, collator (padding-free where its defaults say), Trainer and args."""
    from engine.config.resolve import Hardware, resolve
    from engine.data.collator import make_collator
    from engine.models import apply_method, load_model
    from engine.models.choices import gpu_plan
    from engine.train.trainer import LmfTrainer, counting_collator, training_arguments

    hardware = Hardware.detect()
    config = resolve(lmf_config(part, folder, work, sizes, dry), hardware)  # as a run resolves it
    decided = gpu_plan(config, hardware)
    model = apply_method(load_model(config, for_training=True), config)
    pad = type("Pad", (), {"pad_token_id": 0, "eos_token_id": 0})()
    collator = counting_collator(make_collator(config, pad, decided["attn"]))
    rows = synthetic_rows(sizes.batch * config.max_steps, part.seq, model.config.vocab_size, seed=part.seq)
    trainer = LmfTrainer(model=model, args=training_arguments(config, decided["gradient_checkpointing"]),
                         train_dataset=rows, data_collator=collator, lmf_config=config)
    timer = step_timer(sizes.warmup, hardware.cuda and not dry, lambda: trainer.state.num_input_tokens_seen)
    trainer.add_callback(timer)
    trainer.train()
    padded = trainer.padded_tokens
    return {"plan": decided, "timer": timer, "padding_share": round(1 - trainer.state.num_input_tokens_seen / padded, 4)
            if padded else None, "config": config}


def train_hf(part: Part, folder: Path, work: Path, sizes: Sizes, dry: bool) -> dict[str, Any]:
    """LLaMA-Factory's default path with plain transformers: padded batches (multiple of 8), sdpa, gradient
    checkpointing (reentrant), LoRA trainables in fp32, embeddings kept 16-bit under QLoRA."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig, Trainer, TrainingArguments

    cuda = torch.cuda.is_available() and not dry
    dtype = torch.bfloat16 if cuda else torch.float32
    kwargs: dict[str, Any] = {"dtype": dtype, "attn_implementation": "sdpa"}
    if part.method == "qlora":
        kwargs["quantization_config"] = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                           bnb_4bit_compute_dtype=dtype)
        kwargs["device_map"] = {"": 0 if cuda else "cpu"}
    model = AutoModelForCausalLM.from_pretrained(folder, **kwargs)
    if part.method == "full":
        model.requires_grad_(True)
    else:
        model.requires_grad_(False)
        lora = LoraConfig(task_type="CAUSAL_LM", r=8, lora_alpha=16, target_modules="all-linear")
        model = get_peft_model(model, lora)
    for param in model.parameters():
        if param.requires_grad:
            param.data = param.data.float()
    model.enable_input_require_grads()

    class CountingTrainer(Trainer):
        """Counts the real (non-padding) tokens of each training batch as it is computed."""

        real = 0

        def compute_loss(self, model, inputs, *args, **kwargs):
            if model.training:
                self.real += int(inputs["attention_mask"].sum())
            return super().compute_loss(model, inputs, *args, **kwargs)

    def collate(features: list[dict]) -> dict[str, torch.Tensor]:
        longest = -(-max(len(f["input_ids"]) for f in features) // 8) * 8

        def pad(key: str, value: int) -> torch.Tensor:
            return torch.tensor([f[key] + [value] * (longest - len(f[key])) for f in features])

        return {"input_ids": pad("input_ids", 0), "attention_mask": pad("attention_mask", 0),
                "labels": pad("labels", IGNORE)}

    args = TrainingArguments(
        output_dir=str(work / "run-hf"), per_device_train_batch_size=sizes.batch, max_steps=sizes.warmup + sizes.timed,
        learning_rate=1e-5, bf16=cuda, gradient_checkpointing=True,
        gradient_checkpointing_kwargs={"use_reentrant": True},
        save_strategy="no", logging_steps=1000, report_to="none", remove_unused_columns=False, use_cpu=not cuda,
        disable_tqdm=True)
    rows = synthetic_rows(sizes.batch * args.max_steps, part.seq, model.config.vocab_size, seed=part.seq)
    trainer = CountingTrainer(model=model, args=args, train_dataset=rows, data_collator=collate)
    timer = step_timer(sizes.warmup, cuda, lambda: trainer.real)
    trainer.add_callback(timer)
    trainer.train()
    return {"plan": {"device": "cuda" if cuda else "cpu", "precision": "bf16" if cuda else "fp32", "attn": "sdpa",
                     "padding_free": False, "gradient_checkpointing": True}, "timer": timer,
            "config": lmf_config(part, folder, work, sizes, dry).model_copy(
                update={"disable_gradient_checkpointing": False, "bf16": cuda})}


def run_train(part: Part, folder: Path, work: Path, sizes: Sizes, dry: bool) -> dict[str, Any]:
    import torch

    from engine.sizing import ModelShape, estimate_memory

    cuda = torch.cuda.is_available() and not dry
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    with NvmlPeak() as nvml:
        out = (train_hf if part.path == "hf" else train_lmf)(part, folder, work, sizes, dry)
    timer = out["timer"]
    record: dict[str, Any] = {
        "plan": out["plan"], "batch": sizes.batch, "steps_timed": timer.steps, "timed_s": round(timer.seconds, 3),
        "real_tokens": timer.tokens, "tokens_per_s": round(timer.tokens / timer.seconds, 1) if timer.seconds else None,
        "padding_share": out.get("padding_share"),
    }
    estimate = estimate_memory(out["config"], ModelShape.from_config(shape_config(part.shape)),
                               device="cuda" if cuda else "cpu")
    record.update(estimate_gb=estimate.peak_gb, estimate_breakdown=estimate.breakdown)
    if cuda:
        allocated = torch.cuda.max_memory_allocated() / GB
        nvml_peak = nvml.gb(nvml.peak)
        record.update(peak_allocated_gb=round(allocated, 3),
                      peak_reserved_gb=round(torch.cuda.max_memory_reserved() / GB, 3),
                      nvml_peak_gb=nvml_peak, nvml_before_gb=nvml.gb(nvml.before),
                      error_vs_allocated_pct=round(100 * (estimate.peak_gb - allocated) / allocated, 1))
        if nvml_peak:
            record["error_vs_nvml_pct"] = round(100 * (estimate.peak_gb - nvml_peak) / nvml_peak, 1)
    return record


def run_chat(part: Part, folder: Path, sizes: Sizes, dry: bool) -> dict[str, Any]:
    """Greedy decoding through lmf-tui's inference loader, batch 1, a 128-token prompt, fixed answer length."""
    import torch

    from engine.config import TrainConfig
    from engine.config.resolve import Hardware, resolve
    from engine.models import load_model

    hardware = Hardware.detect()
    config = resolve(TrainConfig(model_name_or_path=str(folder), use_cpu=dry), hardware)
    model = load_model(config, for_training=False)
    device = "cuda" if hardware.cuda and not dry else "cpu"
    model.to(device)
    prompt = torch.randint(10, model.config.vocab_size, (1, 128), device=device)
    generate = dict(do_sample=False, pad_token_id=0, eos_token_id=None)
    model.generate(prompt, max_new_tokens=4, min_new_tokens=4, **generate)  # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = model.generate(prompt, max_new_tokens=sizes.new_tokens, min_new_tokens=sizes.new_tokens, **generate)
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    new = out.shape[1] - prompt.shape[1]
    return {"backend": "transformers generate (as the chat backend calls it)", "new_tokens": int(new),
            "seconds": round(seconds, 3), "tokens_per_s": round(new / seconds, 1),
            "dtype": str(model.dtype).removeprefix("torch."), "attn": model.config._attn_implementation}


# ---- a child: the parts of one shape ------------------------------------------------------------------------

def run_child(shape: str, out: Path, work: Path, deadline: float, dry: bool) -> None:
    import torch

    sizes = DRY_SIZES if dry else GPU_SIZES
    cuda = torch.cuda.is_available() and not dry
    results_path = out / "results.json"
    parts = [p for p in plan(dry) if p.shape == shape]
    folder: Path | None = None
    timings: list[float] = []
    for part in parts:
        if finished(load_results(results_path).get(part.name)):
            print(f"{part.name}: done before, skipped", flush=True)
            continue
        record: dict[str, Any] = {"part": part.name, **asdict(part), "dry": dry, "when": _now(), **_versions(cuda)}
        need = max(timings) if timings else (0 if dry else 30)
        if (shape, part.method) in SKIP:
            record.update(status="not run", why=SKIP[(shape, part.method)])
        elif time.time() + need > deadline:
            record.update(status="skipped", why=f"time budget: {need:.0f} s needed, "
                                                f"{max(deadline - time.time(), 0):.0f} s left; run again to finish")
        else:
            started = time.time()
            try:
                folder = folder or model_folder(shape, work, cuda)
                result = run_train(part, folder, work, sizes, dry) if part.kind == "train" else \
                    run_chat(part, folder, sizes, dry)
                record.update(status="ok", **result)
            except Exception as exc:  # recorded, and the next part runs
                record.update(status="error", error=f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
            record["seconds"] = round(time.time() - started, 1)
            timings.append(time.time() - started)
            _free(cuda)
        save_result(results_path, record)
        print(f"{part.name}: {record['status']} {record.get('tokens_per_s', '')} {record.get('why', '')}"
              f"{record.get('error', '')}", flush=True)


def _free(cuda: bool) -> None:
    import gc

    gc.collect()
    if cuda:
        import torch

        torch.cuda.empty_cache()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _versions(cuda: bool) -> dict[str, Any]:
    import torch
    import transformers

    return {"gpu": torch.cuda.get_device_name(0) if cuda else None, "torch": torch.__version__,
            "transformers": transformers.__version__}


# ---- the parent: children per shape, then the table ---------------------------------------------------------

def run_all(out: Path, work: Path, budget: float, dry: bool, resume: Path | None, only: list[str]) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.json"
    if resume and resume.exists() and not results_path.exists():
        results_path.write_text(resume.read_text())
    deadline = time.time() + budget
    for part in plan(dry):
        if part.kind == "llamacpp" and not finished(load_results(results_path).get(part.name)):
            save_result(results_path, {"part": part.name, **asdict(part), "status": "not run", "when": _now(),
                                       "why": "no CUDA build of llama-cpp-python travels (it compiles from source "
                                              "for minutes, with no network there) and the embedded SmolLM2 GGUF "
                                              "(98 MB) is over the 64 MiB that travels"})
    shapes = [s for s in dict.fromkeys(p.shape for p in plan(dry) if p.shape) if not only or s in only]
    for i, shape in enumerate(shapes):
        remaining = deadline - time.time()
        if remaining <= 0:
            break
        share = SHARE.get(shape, 1) / sum(SHARE.get(s, 1) for s in shapes[i:])  # every shape gets its turn
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", shape, "--out", str(out), "--work",
               str(work), "--deadline", str(time.time() + remaining * share)] + (["--dry"] if dry else [])
        try:
            subprocess.run(cmd, timeout=remaining * share + 120, check=False)  # a hung part does not take all
        except subprocess.TimeoutExpired:
            print(f"{shape}: stopped at the time budget", flush=True)
    results = load_results(results_path)
    (out / "results.md").write_text(table(results))
    return results


def table(results: dict[str, Any]) -> str:
    """The results as a markdown table: tokens/s, lmf/hf ratio, peaks and the estimate's error."""
    lines = ["| part | status | tokens/s | × hf | peak alloc GB | NVML GB | estimate GB | error vs alloc | plan |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name in sorted(results):
        r = results[name]
        ratio = ""
        if r.get("path", "").startswith("lmf") and r.get("tokens_per_s"):
            base = results.get(f"{r['shape']}/{r['method']}/{r['seq']}/hf", {})
            ratio = f"{r['tokens_per_s'] / base['tokens_per_s']:.2f}" if base.get("tokens_per_s") else ""
        plan_text = ", ".join(f"{k}={v}" for k, v in (r.get("plan") or {}).items() if k in ("attn", "padding_free",
                                                                                         "gradient_checkpointing"))
        error = f"{r['error_vs_allocated_pct']:+.1f} %" if r.get("error_vs_allocated_pct") is not None else ""
        lines.append(f"| {name} | {r['status']} | {r.get('tokens_per_s') or ''} | {ratio} | "
                     f"{r.get('peak_allocated_gb') or ''} | {r.get('nvml_peak_gb') or ''} | "
                     f"{r.get('estimate_gb') or ''} | "
                     f"{error} | {plan_text or r.get('why', r.get('error', ''))} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="results.json and results.md go here")
    parser.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "lmf-gpu-bench",
                        help="random-weight model folders and trainer output (not results)")
    parser.add_argument("--budget", type=float, default=450, help="seconds; no part starts that would not end in it")
    parser.add_argument("--dry", action="store_true", help="tiny shapes on the CPU (what CI runs)")
    parser.add_argument("--resume", type=Path, help="a results.json of an earlier run: its finished parts are kept")
    parser.add_argument("--only", nargs="*", default=[], help="shapes to run (default: all)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--deadline", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.child:
        run_child(args.child, args.out, args.work, args.deadline, args.dry)
        return 0
    results = run_all(args.out, args.work, args.budget, args.dry, args.resume, args.only)
    print((args.out / "results.md").read_text())
    bad = [name for name, r in results.items() if r["status"] == "error"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
