"""Where a training step's time goes: torch.profiler regions set by module hooks, backward attributed by op.

Forward regions come from hooks (nothing in the library is patched): the whole generation of the triplets
(from the wrapper's forward to its base model's forward), the hypernetworks' forwards inside it, and every
adapter layer minus its frozen base layer. The backward of an op is attributed to the region its forward
ran in through the autograd sequence number the profiler records on both (`sequence_nr`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from torch import nn
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile, record_function

PHASES = ("forward", "backward", "optimizer", "update_and_allocate", "zero_grad")
# Forward region labels, innermost first when nested.
HYPERNET, GENERATION, ADAPTER, BASE_LAYER = "hb::hypernet", "hb::generation", "hb::adapter", "hb::adapter_base"
CATEGORIES = {
    HYPERNET: "hypernetworks",
    GENERATION: "generation other (orth term, increment, Λ·mask)",
    ADAPTER: "adapter matmuls (x·Qᵀ·Λ·Pᵀ or LoRA's)",
    BASE_LAYER: "base model",
    None: "base model",
}


class _Regions:
    """Hooks that open/close record_function regions around modules."""

    def __init__(self) -> None:
        self.handles: list[Any] = []
        self.open: dict[tuple[int, str], list[Any]] = defaultdict(list)

    def _enter(self, module: nn.Module, label: str) -> None:
        rf = record_function(label)
        rf.__enter__()
        self.open[(id(module), label)].append(rf)

    def _exit(self, module: nn.Module, label: str) -> None:
        stack = self.open[(id(module), label)]
        if stack:
            stack.pop().__exit__(None, None, None)

    def around(self, module: nn.Module, label: str) -> None:
        self.handles.append(module.register_forward_pre_hook(lambda m, a: self._enter(m, label)))
        self.handles.append(module.register_forward_hook(lambda m, a, o: self._exit(m, label)))

    def between(self, start: nn.Module, end: nn.Module, label: str) -> None:
        """From `start`'s forward pre-hook to `end`'s forward pre-hook (end runs inside start)."""
        self.handles.append(start.register_forward_pre_hook(lambda m, a: self._enter(start, label)))
        self.handles.append(end.register_forward_pre_hook(lambda m, a: self._exit(start, label)))

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def _install(model: nn.Module, regions: _Regions) -> None:
    hypernets = getattr(model, "hypernets", None)
    if isinstance(hypernets, nn.ModuleDict) and hasattr(model, "base_model"):  # HyperAdaLoRA
        regions.between(model, model.base_model, GENERATION)
        for h in hypernets.values():
            regions.around(h, HYPERNET)
    for m in model.modules():
        base = getattr(m, "base_layer", None)
        if isinstance(base, nn.Module) and m is not model and not isinstance(m, nn.ModuleDict):
            regions.around(m, ADAPTER)
            regions.around(base, BASE_LAYER)


def _nearest_region(event: Any) -> str | None:
    e = event.cpu_parent
    while e is not None:
        if e.name in CATEGORIES:
            return e.name
        e = e.cpu_parent
    return None


def _phase_of(event: Any) -> str | None:
    e = event
    while e is not None:
        if e.name.startswith("phase::"):
            return e.name[len("phase::"):]
        e = e.cpu_parent
    return None


@contextmanager
def phase(name: str, enabled: bool) -> Iterator[None]:
    """A record_function region named phase::<name> while profiling; nothing otherwise."""
    if not enabled:
        yield
        return
    with record_function(f"phase::{name}"):
        yield


def breakdown(model: nn.Module, run_step: Callable[[bool], Any], steps: int, cuda: bool = False) -> dict[str, Any]:
    """Profile `steps` calls of run_step(profiling=True) on `model`; per-step milliseconds by phase and part.

    On CPU, CPU time as the profiler sees it (its own overhead inflates small ops, so the profiled total is
    larger than the unprofiled step time: compare the shares, not the absolute values, with the timed
    table); with `cuda`, the GPU time of the kernels each region launched.
    """
    regions = _Regions()
    _install(model, regions)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    try:
        with profile(activities=activities) as prof:
            for _ in range(steps):
                run_step(True)
    finally:
        regions.remove()
    events = [e for e in prof.events() if e.device_type == DeviceType.CPU]  # kernels count through their CPU op

    def span(e: Any) -> float:  # milliseconds
        return (e.device_time_total if cuda else e.cpu_time_total) / 1e3

    phase_ms: dict[str, float] = defaultdict(float)
    seq_category: dict[int, str | None] = {}
    forward: dict[str, float] = defaultdict(float)
    region_ms: dict[str, float] = defaultdict(float)
    # An op records the sequence number the NEXT autograd node will get; an op that creates no node (a no-op
    # cast, say) shares it with the op that does, which may run later in another region. The node's creator
    # is the last op, in time, to record the number: the last one wins.
    for e in sorted(events, key=lambda e: e.time_range.start):
        if e.name.startswith("phase::"):
            phase_ms[e.name[len("phase::"):]] += span(e)
        elif e.name in CATEGORIES:
            region_ms[(_phase_of(e) or "?") + "/" + e.name] += span(e)
        elif e.sequence_nr >= 0 and not e.name.startswith("autograd::") and _phase_of(e) == "forward":
            seq_category[e.sequence_nr] = _nearest_region(e)

    # The autograd engine runs CUDA backward on its own thread, outside the phase::backward region: every
    # evaluate_function event is backward work, and on CUDA the phase total is their sum.
    backward: dict[str, float] = defaultdict(float)
    for e in events:
        if e.name.startswith("autograd::engine::evaluate_function"):
            backward[CATEGORIES[seq_category.get(e.sequence_nr)]] += span(e)
    if cuda:
        phase_ms["backward"] = sum(backward.values())

    # Forward: nested regions give exclusive times by subtraction.
    fwd_total = phase_ms["forward"]
    hyp_f = region_ms.get(f"forward/{HYPERNET}", 0.0)
    gen_f = region_ms.get(f"forward/{GENERATION}", 0.0)
    adapter_f = region_ms.get(f"forward/{ADAPTER}", 0.0) - region_ms.get(f"forward/{BASE_LAYER}", 0.0)
    forward[CATEGORIES[HYPERNET]] = hyp_f
    forward[CATEGORIES[GENERATION]] = gen_f - hyp_f
    forward[CATEGORIES[ADAPTER]] = adapter_f
    forward[CATEGORIES[None]] = fwd_total - gen_f - adapter_f
    bwd_total = phase_ms["backward"]
    backward["autograd engine other (AccumulateGrad, scheduling)"] = bwd_total - sum(backward.values())
    alloc_hyp = region_ms.get(f"update_and_allocate/{HYPERNET}", 0.0)
    update = {"hypernetworks (commit)": alloc_hyp,
              "rest (commit arithmetic, masks, importance)": phase_ms["update_and_allocate"] - alloc_hyp}

    def per_step(d: dict[str, float]) -> dict[str, float]:
        return {k: round(v / steps, 3) for k, v in d.items() if abs(v) > 1e-9}

    total = sum(phase_ms[p] for p in PHASES)
    hyper = hyp_f + backward.get(CATEGORIES[HYPERNET], 0.0) + alloc_hyp
    return {
        "steps": steps,
        "profiled_step_ms": round(total / steps, 3),
        "phases_ms": per_step({p: phase_ms[p] for p in PHASES}),
        "forward_ms": per_step(forward),
        "backward_ms": per_step(backward),
        "update_and_allocate_ms": per_step(update),
        "hypernet_share": round(hyper / total, 4) if total else None,
        "hypernet_ms": round(hyper / steps, 3),
    }
