"""How much memory a fine-tuning run needs, which methods fit a machine, and the measured peak. No torch import."""

from .estimate import Estimate, estimate_memory, trainable_params
from .measure import measured_peak_gb
from .params import ParamCount, count_params
from .shape import ModelShape, read_model_shape
from .suggest import MethodFit, Suggestion, fix_for, suggest
from .table import reference_row, reference_rows

__all__ = ["Estimate", "MethodFit", "ModelShape", "ParamCount", "Suggestion", "count_params", "estimate_memory",
           "fix_for", "measured_peak_gb", "read_model_shape", "reference_row", "reference_rows", "suggest",
           "trainable_params"]
