"""Training and evaluation harness: one accelerate loop for hyperadalora, peft AdaLoRA, peft LoRA and head-only."""

from .config import TrainConfig
from .evaluation import evaluate
from .loop import train

__all__ = ["TrainConfig", "evaluate", "train"]
