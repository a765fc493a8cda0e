"""Read and write configs: YAML files, `key=value` overrides, one-line errors."""

from __future__ import annotations

import difflib
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from .errors import ConfigError, Problem
from .rules import Purpose, check_config
from .schema import TrainConfig

# LLaMA-Factory keys for features lmf-tui does not run; a falsy value is accepted and ignored.
UNSUPPORTED = {
    "Megatron (MCA)": ("use_mca", "mca_", "megatron", "tensor_model_parallel_size", "pipeline_model_parallel_size",
                       "expert_model_parallel_size", "context_parallel_size"),
    "ASFT loss": ("use_asft_loss", "asft_"),
    "GPTQ export": ("export_quantization_dataset", "export_quantization_nsamples", "export_quantization_maxlen"),
    "EAFT loss": ("use_eaft_loss", "eaft_"),
    "Ray": ("use_ray", "ray_", "resources_per_worker", "placement_strategy"),
    "KTransformers": ("use_kt", "kt_", "cpu_infer", "chunk_size"),
    "SwanLab": ("use_swanlab", "swanlab_"),
    "mixture of depths": ("mixture_of_depths",),
    "shift short attention": ("shift_attn",),
    "multimodal inputs": ("image_", "video_", "audio_", "freeze_vision_tower", "freeze_multi_modal_projector",
                          "freeze_language_model", "train_mm_proj_only", "use_audio_in_video"),
    "vLLM": ("vllm_",),
    "SGLang": ("sglang_",),
    "FP8 training": ("fp8",),
    "MoE aux loss": ("moe_aux_loss_coef",),
}
# LLaMA-Factory keys accepted with no effect here: `--help-keys` lists them, a run's journal warns of them.
IGNORED = {"print_param_status", "upcast_layernorm",
           "upcast_lmhead_output", "use_fast_tokenizer", "split_special_tokens",
           "low_cpu_mem_usage", "offload_folder", "use_cache", "ms_hub_token", "om_hub_token",
           "use_reentrant_gc", "include_num_input_tokens_seen", "include_tokens_per_second", "save_safetensors",
           "ignore_pad_token_for_loss", "model_max_length", "data_shared_file_system",
           "loraplus_lr_embedding", "module_dropout", "ddp_broadcast_buffers", "remove_unused_columns",
           "use_v1_kernels", "freeze_partial_layers"}


# Keys whose values are credentials: never written to a file, the journal or the screen.
SECRET_KEYS = ("hf_hub_token",)
REDACTED = "***"

ACCELERATE_KEYS = ("compute_environment", "distributed_type")
V1_KEYS = ("model", "model_class")


def foreign_file(raw: dict[str, Any]) -> str | None:
    """The one-line reason a mapping is another tool's file (accelerate, LLaMA-Factory v1), or None."""
    if found := [k for k in ACCELERATE_KEYS if k in raw]:
        return (f"this is an accelerate config file ({', '.join(found)}), not a training config — give it to "
                "`accelerate launch --config_file`; lmf-tui takes a LLaMA-Factory YAML (model_name_or_path, "
                "stage, dataset …) and starts one process per GPU itself")
    if raw and all(str(k).startswith("<") and str(k).endswith(">") for k in raw):
        return ("this is a special-token description file (LLaMA-Factory's new_special_tokens_config), not a "
                "training config — list the tokens in new_special_tokens instead")
    if (found := [k for k in V1_KEYS if k in raw]) and "model_name_or_path" not in raw:
        return (f"this is a LLaMA-Factory v1 config ({', '.join(k + ':' for k in found)}), which lmf-tui does not "
                "read — write it with LLaMA-Factory's classic keys (model_name_or_path, stage, dataset …) as in "
                "its examples/train_lora")
    return None


def parse_config(raw: dict[str, Any], purpose: Purpose = "any") -> TrainConfig:
    """Validate a raw mapping (from YAML or a form) into a config; raises ConfigError."""
    if (reason := foreign_file(raw)) is not None:
        raise ConfigError(reason)
    raw = {k: v for k, v in raw.items() if not (k in SECRET_KEYS and v == REDACTED)}  # a saved file's mark: unset
    problems: list[Problem] = []
    clean: dict[str, Any] = {}
    ignored: dict[str, Any] = {}
    features: dict[str, list[str]] = {}
    for key, value in raw.items():
        if key in TrainConfig.model_fields:
            clean[key] = value
        elif (feature := _unsupported_feature(key)) is not None:
            if value not in (None, False, 0, "", [], {}):
                features.setdefault(feature, []).append(key)
        elif key in IGNORED:
            if value not in (None, False, "", [], {}):
                ignored[key] = value
        else:
            problems.append(Problem((key,), "unknown key", _did_you_mean(key)))
    if features:  # the feature is the news; keys of its own that lmf-tui does not know would only add noise
        raise ConfigError([Problem(tuple(keys), f"{feature} is a LLaMA-Factory feature lmf-tui does not run",
                                   f"remove {', '.join(repr(k) for k in keys)} from the config")
                           for feature, keys in features.items()])
    if problems:
        raise ConfigError(problems)
    try:
        config = TrainConfig.model_validate(clean)
    except ValidationError as exc:
        raise ConfigError([_problem_from_pydantic(err) for err in exc.errors()]) from None
    config._ignored = ignored
    if rule_problems := check_config(config, purpose):
        raise ConfigError(rule_problems)
    return config


def load_config(path: str | os.PathLike, overrides: list[str] | None = None,
                purpose: Purpose = "any") -> TrainConfig:
    """Read a LLaMA-Factory style YAML file and apply `key=value` overrides."""
    raw = read_yaml(path)
    raw.update(parse_overrides(overrides or []))
    return parse_config(raw, purpose)


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """The top-level mapping of a YAML file, or a one-line ConfigError."""
    path = Path(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file — check the path") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder — name the YAML file in it") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}) — save the file as UTF-8") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values at the top level")
    return data


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping is an error (not a silent override)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"'{key}' is given twice — keep one", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """`key=value` strings to a mapping, each value typed by the schema's field type."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip().lstrip("-")
        if not sep or not key:
            raise ConfigError(Problem((item,), "an override must look like key=value", "e.g. learning_rate=1e-4"))
        out[key] = coerce_value(key, text.strip())
    return out


def coerce_value(key: str, text: str) -> Any:
    """Turn form or command-line text into the field's type ('' and null mean unset)."""
    if key not in TrainConfig.model_fields:
        return yaml.safe_load(text) if text else None
    adapter = TypeAdapter(TrainConfig.model_fields[key].annotation)
    if text.lower() in ("", "null", "none", "~") and _accepts_none(adapter):
        return None  # (report_to=none stays the word: that field takes no null)
    candidates: list[Any] = []
    try:
        candidates.append(yaml.safe_load(text))
    except yaml.YAMLError:
        pass
    candidates += [text, [part.strip() for part in text.split(",")]]
    for candidate in candidates:
        try:
            return adapter.validate_python(candidate)
        except ValidationError:
            continue
    return text  # parse_config reports the field with its expected type


def _accepts_none(adapter: TypeAdapter) -> bool:
    try:
        adapter.validate_python(None)
    except ValidationError:
        return False
    return True


def config_to_dict(config: TrainConfig, full: bool = False) -> dict[str, Any]:
    """The config as a YAML-ready mapping (secrets as ***): only the keys set or changed, unless `full`."""
    data = redact(config.model_dump(mode="json"))
    if not full:
        defaults = TrainConfig().model_dump(mode="json")
        data = {k: v for k, v in data.items() if k in config.model_fields_set or v != defaults[k]}
    return {**data, **config.ignored_keys}  # kept, so a saved run config warns of them again


def redact(raw: dict[str, Any]) -> dict[str, Any]:
    """A copy with every credential that is set shown as ***."""
    return {k: REDACTED if k in SECRET_KEYS and v else v for k, v in raw.items()}


def secret_env(config: TrainConfig) -> dict[str, str]:
    """The environment that hands a config's credentials to a child process (its saved config holds ***)."""
    return {"HF_TOKEN": config.hf_hub_token} if config.hf_hub_token else {}


def dump_yaml(data: dict[str, Any]) -> str:
    """YAML text in schema order, readable by LLaMA-Factory."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)


def save_config(config: TrainConfig, path: str | os.PathLike) -> Path:
    """Write the config as YAML atomically (temp file, fsync, rename)."""
    return atomic_write_text(path, dump_yaml(config_to_dict(config)))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write text so a crash leaves either the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _unsupported_feature(key: str) -> str | None:
    for feature, prefixes in UNSUPPORTED.items():
        if any(key == p or (p.endswith("_") and key.startswith(p)) for p in prefixes):
            return feature
    return None


def _did_you_mean(key: str) -> str:
    close = difflib.get_close_matches(key, TrainConfig.model_fields.keys(), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else "see `lmf-tui train --help-keys` for the keys"


def _problem_from_pydantic(err: dict[str, Any]) -> Problem:
    name = str(err["loc"][0]) if err["loc"] else ""
    info = TrainConfig.model_fields.get(name)
    hint = info.description if info else ""
    value = err.get("input")
    msg = err["msg"].replace("Input should be", "should be").replace("Input", "value")
    return Problem((name,), f"{msg} (got {value!r})", hint.rstrip(".") if hint else "")
