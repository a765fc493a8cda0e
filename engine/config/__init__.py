"""The config schema and everything read from it: YAML I/O, overrides, validation rules."""

from .errors import ConfigError, Problem
from .io import (atomic_write_text, coerce_value, config_to_dict, dump_yaml, load_config, parse_config,
                 parse_overrides, read_yaml, redact, save_config, secret_env)
from . import resolve
from .rules import check_config
from .schema import GROUPS, TrainConfig, field_groups

__all__ = [
    "ConfigError", "Problem", "TrainConfig", "GROUPS", "field_groups", "check_config", "load_config",
    "parse_config", "parse_overrides", "coerce_value", "read_yaml", "save_config", "config_to_dict",
    "dump_yaml", "atomic_write_text", "redact", "secret_env",
]
