"""Data loading for hyperadalora: GLUE classification and instruction tuning.

Only light modules are imported here; ``datasets`` (Hub loading) and transformers' collators
are imported by the functions and submodules that need them.
"""

from hyperadalora.data.glue import (
    GLUE_TASKS,
    GlueTask,
    get_task,
    glue_metrics,
    load_glue_split,
    tokenize_glue,
)
from hyperadalora.data.instruct import (
    IGNORE_INDEX,
    format_prompt,
    load_instructions,
    split_heldout,
    tokenize_for_causal_lm,
)

__all__ = [
    "GLUE_TASKS",
    "IGNORE_INDEX",
    "GlueTask",
    "format_prompt",
    "get_task",
    "glue_metrics",
    "load_glue_split",
    "load_instructions",
    "split_heldout",
    "tokenize_for_causal_lm",
    "tokenize_glue",
]
