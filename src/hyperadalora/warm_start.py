"""Warm starts: the gradient rule's hypernetworks Φ as another run left them, loaded in place of the zero start.

A warm start is data, never code: a safetensors file of Φ's tensors (H_P, H_Λ, H_Q) with metadata saying what it
fits (format version, rule, features, token widths, hypernetwork shape) and a SHA-256 of its tensors. On load:

1. the file's size is bounded and its header (shapes only, no tensor read) is checked against the rule's Φ, so a
   file that does not fit this config is refused with one line naming the field and the fix;
2. the tensors are read (safetensors: nothing is unpickled) and their checksum compared with the metadata's, and,
   for a warm start shipped with the package, with the checksum recorded here in `SHIPPED`.

The features the gradient rule reads are normalised to order 1 (value/σ, g/d, m̂/d, relative log d), so Φ
learned on one model's matrices can be read on another's; what is transferred is a learned step rule, not a
model's weights. How the shipped file was trained, and what it was judged on, is in docs/method.md ("Warm
start"); `benchmarks/warm_start.py` is the script that trains one.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from .generation import Rule

FORMAT_VERSION = 1
MAX_BYTES = 64 * 2**20  # a warm start is Φ alone (~0.2 MB at the defaults): anything far larger is refused unread
SHIPPED_DIR = Path(__file__).parent / "warm_starts"
# name -> (file in SHIPPED_DIR, SHA-256 of its tensors): the checksum a shipped warm start must have on load.
# glue-alpaca-r3: the default's Φ after SST-2 (seed 10), NLG on Alpaca (11) and MRPC (12), init_r 3
# (benchmarks/warm_start.sh shipped; docs/method.md, "Warm starts of Φ"), with 0.3's max_gain 10: load it with max_gain=10.
SHIPPED: dict[str, tuple[str, str]] = {
    "glue-alpaca-r3": ("glue-alpaca-r3.safetensors", "7d96e815537430767184b165c13eeef546d4c7bfe53652bdae72135c10dfee69"),
}
# What must agree between the config a warm start was trained with and the one it is loaded into.
FIT_FIELDS = ("generation", "hypernet", "hypernet_hidden", "hypernet_heads", "hypernet_layers", "hypernet_ffn",
              "init_r", "position_encoding", "progress_features", "max_gain")
# Fit fields added after files were shipped: a file that does not name one was written with this value (0.3's).
LATER_FIT_FIELDS = {"progress_features": False, "max_gain": 10.0}


def tensors_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over the tensors in name order: each name, dtype, shape and raw bytes."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def phi_state(rule: Rule) -> dict[str, torch.Tensor]:
    """Φ's tensors as a warm start stores them: the rule's `hypernets` state dict, float32 on the CPU."""
    return {f"hypernets.{k}": v.detach().float().cpu().contiguous() for k, v in rule.hypernets.state_dict().items()}


def save_warm_start(rule: Rule, path: str | os.PathLike, trained_on: list[str], notes: str = "") -> str:
    """Write `rule`'s Φ to `path` as a warm start; returns its tensors' SHA-256. `trained_on` lists what it saw
    (tasks, models, seeds, steps), recorded in the file."""
    return _write(rule.config, phi_state(rule), path, trained_on, notes)


def warm_start_from_adapter(directory: str | os.PathLike, path: str | os.PathLike, trained_on: list[str],
                            notes: str = "") -> str:
    """The Φ of a saved HyperAdaLoRA adapter folder (`save_pretrained`) as a warm start at `path`; no base model
    is needed. Returns its tensors' SHA-256."""
    from safetensors import safe_open

    from .config import HyperAdaLoraConfig
    from .model import WEIGHTS_NAME

    directory = Path(directory)
    config = HyperAdaLoraConfig.load(directory)
    if config.generation != "gradient":
        raise ValueError(f"{directory}: generation={config.generation!r}; a warm start is a gradient-rule Φ")
    with safe_open(str(directory / WEIGHTS_NAME), framework="pt") as f:
        tensors = {k: f.get_tensor(k).float() for k in f.keys() if k.startswith("hypernets.")}
    return _write(config, tensors, path, trained_on, notes)


def _write(config: Any, tensors: dict[str, torch.Tensor], path: str | os.PathLike, trained_on: list[str],
           notes: str) -> str:
    from safetensors.torch import save_file

    from .files import atomic_write

    digest = tensors_sha256(tensors)
    meta = {"format_version": str(FORMAT_VERSION), "sha256": digest, "trained_on": json.dumps(trained_on),
            "notes": notes, **{f: json.dumps(getattr(config, f)) for f in FIT_FIELDS}}
    atomic_write(Path(path), lambda p: save_file(tensors, str(p), metadata=meta))
    return digest


def resolve(spec: str) -> tuple[Path, str | None]:
    """`hypernet_init` -> (file, the checksum it must have or None): a shipped name or a path to a file."""
    if spec in SHIPPED:
        name, digest = SHIPPED[spec]
        return SHIPPED_DIR / name, digest
    path = Path(spec).expanduser()
    if path.suffix != ".safetensors" or not path.is_file():
        known = ", ".join(["zero", *SHIPPED]) or "zero"
        raise ValueError(f"hypernet_init: {spec!r} is neither a shipped warm start ({known}) nor a .safetensors "
                         "file; pass one of those or a path written by save_warm_start")
    return path, None


def load_warm_start(rule: Rule, spec: str) -> dict[str, Any]:
    """Load the warm start `spec` (a shipped name or a path) into `rule`'s Φ, in place; returns its metadata.
    Every check runs before Φ is touched: a refused file leaves the zero start as it was."""
    from safetensors import SafetensorError, safe_open

    path, expected = resolve(spec)
    where = f"hypernet_init {spec!r}"
    if path.stat().st_size > MAX_BYTES:
        raise ValueError(f"{where}: {path.stat().st_size} bytes, more than a warm start can be ({MAX_BYTES}); "
                         "pass a file written by save_warm_start")
    want = phi_state(rule)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
            _check_fit(rule, meta, shapes, want, where)
            tensors = {k: f.get_tensor(k) for k in want}
    except (OSError, SafetensorError) as e:  # a malformed header
        raise ValueError(f"{where}: not a readable safetensors file ({e}); pass a file written by save_warm_start") from None
    digest = tensors_sha256(tensors)
    if digest != meta.get("sha256") or (expected is not None and digest != expected):
        raise ValueError(f"{where}: checksum mismatch (the file is damaged or was edited); reinstall the package "
                         "or rewrite the file with save_warm_start")
    with torch.no_grad():
        own = rule.hypernets.state_dict()
        for k, v in tensors.items():
            own[k.removeprefix("hypernets.")].copy_(v)
    return meta


def _check_fit(rule: Rule, meta: dict[str, str], shapes: dict[str, tuple[int, ...]],
               want: dict[str, torch.Tensor], where: str) -> None:
    if meta.get("format_version") != str(FORMAT_VERSION):
        raise ValueError(f"{where}: format version {meta.get('format_version')!r}, this package reads "
                         f"{FORMAT_VERSION}; use a warm start written by this version")
    for field in FIT_FIELDS:
        theirs = meta.get(field, json.dumps(LATER_FIT_FIELDS[field]) if field in LATER_FIT_FIELDS else None)
        ours = json.dumps(getattr(rule.config, field))
        if theirs != ours:
            raise ValueError(f"{where}: trained with {field}={theirs}, this config has {field}={ours}; set "
                             f"{field}={theirs} or use hypernet_init='zero'")
    if set(shapes) != set(want) or any(shapes[k] != tuple(v.shape) for k, v in want.items()):
        raise ValueError(f"{where}: its tensors do not match this rule's hypernetworks (features or token widths "
                         "differ); use hypernet_init='zero' or a warm start written for this config")
