"""The fine-tuning methods behind one small interface, so that the loop treats them identically.

Every method adapts exactly the same Linear layers (the full names resolved once by `resolve_targets`), trains
the same classifier head (modules_to_save) and exposes: the module to forward, its optimizer and schedule, its
regulariser (before weighting), the once-per-optimizer-step hook, its rank budget, the weights to evaluate and
save (`eval_weights`), and its state as tensors (+ JSON) for checkpoints.

Baselines are built on the library that owns them: LoRA, AdaLoRA, LoRA+ (`create_loraplus_optimizer`) and the
PiSSA / LoRA-GA starts from peft; Prodigy from prodigyopt; schedule-free AdamW from schedulefree.
Why ~470 lines in one module: each method is one small class over one interface, read side by side.
"""

from __future__ import annotations

import contextlib
import copy
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors.torch import save_file
from torch import nn
from transformers.pytorch_utils import Conv1D

from ..errors import UserInputError
from ..model import check_tensors, matches_target
from .config import TrainConfig

if TYPE_CHECKING:
    from .sources import Data

HEAD_NAMES = ("classifier", "score")  # sequence-classification heads of BERT-like / LLaMA-like models
ADAPTER_FILE = "adapter.safetensors"  # the method's state in the loop's own format (what `evaluate` loads)


def head_names(model: nn.Module, causal: bool) -> list[str]:
    """Top-level classification heads of `model` (trained in every method); none for a causal LM."""
    if causal:
        return []
    names = [n for n in HEAD_NAMES if isinstance(getattr(model, n, None), nn.Module)]
    if not names:
        raise UserInputError(f"model {type(model).__name__}: no classification head named "
                             f"{' or '.join(HEAD_NAMES)}; use a *ForSequenceClassification architecture")
    return names


def resolve_targets(model: nn.Module, cfg: TrainConfig, heads: list[str]) -> list[str]:
    """Full names of the Linear/Conv1D layers to adapt: the same list is handed to every method."""
    from .. import default_target_modules

    if cfg.target_modules is not None:
        targets = cfg.target_modules
    else:
        try:
            targets = default_target_modules(model)
        except ValueError as e:
            raise UserInputError(str(e)) from None
    linears = [n for n, m in model.named_modules() if isinstance(m, nn.Linear | Conv1D)]
    under_head = re.compile(rf"^({'|'.join(map(re.escape, heads))})(\.|$)") if heads else None
    found = [n for n in linears if matches_target(n, targets) and not (under_head and under_head.match(n))]
    if not found:
        candidates = sorted({n.rsplit(".", 1)[-1] for n in linears})
        raise UserInputError(f"target_modules: no Linear layer of the model matches {targets}; candidates in this "
                             f"model: {', '.join(candidates) or 'none'}")
    return found


class Method:
    """Common part: the head-only floor. Subclasses add adapters."""

    name = "head"

    def __init__(self, model: nn.Module, cfg: TrainConfig, heads: list[str], targets: list[str],
                 total_steps: int, data: Data | None = None) -> None:
        self.cfg = cfg
        self.heads = heads
        self.targets = targets
        self.data = data  # the run's training data: only a start computed from batches (LoRA-GA) reads it
        self.optimizer: torch.optim.Optimizer | None = None  # set by build_optimizer
        self.model = self._build(model, total_steps)

    def _build(self, model: nn.Module, total_steps: int) -> nn.Module:
        model.requires_grad_(False)
        for name in self.heads:
            getattr(model, name).requires_grad_(True)
        return model

    def first_batches_step(self, model: nn.Module, why: str, seed: int | None = None) -> Callable[[], None]:
        """A `train_step` for a start computed from gradients (LoRA-GA's `preprocess_loraga`, init_pq=gradient):
        forward and backward of the bare `model` on the run's first `lora_ga_batches` batches (epoch 0's order,
        the batches training starts with), with the model's own loss on its labels (the task's cross-entropy).
        With `seed`, the dropout masks are drawn from it (and the caller's RNG is left as it was), so that every
        method computing the start sees the same gradient."""
        from .sources import epoch_batches

        if self.data is None:
            raise ValueError(f"{why} needs the training data to estimate gradients (build_method(data=))")
        data, c = self.data, self.cfg
        batches = epoch_batches(len(data.train), c.batch_size, c.seed, 0)[:c.lora_ga_batches]
        device = next(model.parameters()).device

        def train_step() -> None:
            with contextlib.ExitStack() as stack:
                if seed is not None:
                    stack.enter_context(torch.random.fork_rng(devices=[device] if device.type == "cuda" else []))
                    torch.manual_seed(seed)
                for idx in batches:
                    batch = {k: v.to(device) for k, v in data.collate([data.train[i] for i in idx]).items()}
                    model(**batch).loss.backward()

        return train_step

    # --- optimisation ----------------------------------------------------------------------------
    def named_trainable(self) -> list[tuple[str, nn.Parameter]]:
        return [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]

    def _is_head(self, name: str) -> bool:
        return any(re.search(rf"(^|\.){h}(\.|$)", name) for h in self.heads)

    def trained_lr(self) -> float:
        """The optimizer's rate for the method's own trained parameters (not the head)."""
        return self.cfg.lr

    def param_groups(self) -> list[dict[str, Any]]:
        """The method's parameters at `trained_lr()`, head parameters at `head_lr` (AdamW groups; empty ones dropped)."""
        named = self.named_trainable()
        head = [p for n, p in named if self._is_head(n)]
        rest = [p for n, p in named if not self._is_head(n)]
        groups = [{"params": rest, "lr": self.trained_lr()},
                  {"params": head, "lr": self.cfg.head_lr if self.cfg.head_lr is not None else self.cfg.lr}]
        return [g for g in groups if g["params"]]

    def build_optimizer(self) -> torch.optim.Optimizer:
        """The optimizer of `cfg.optimizer` over `param_groups()` (the loop steps it; the method keeps a reference
        for the schedule-free train/eval switch)."""
        c, groups = self.cfg, self.param_groups()
        if c.optimizer == "prodigy":
            from prodigyopt import Prodigy

            # Each group's lr multiplies Prodigy's one estimated step size d (lr 1.0: d itself); a warm-up needs
            # its safeguard, which keeps d from growing on the warm-up's small steps (prodigyopt's README).
            optimizer = Prodigy(groups, d_coef=c.prodigy_d_coef, weight_decay=c.weight_decay,
                                safeguard_warmup=c.warmup_steps > 0)
        elif c.optimizer == "schedulefree":
            from schedulefree import AdamWScheduleFree

            optimizer = AdamWScheduleFree(groups, weight_decay=c.weight_decay, warmup_steps=c.warmup_steps)
            optimizer.train()  # it starts in eval mode and refuses to step there
        else:
            optimizer = torch.optim.AdamW(groups, weight_decay=c.weight_decay)
        self.optimizer = optimizer
        return optimizer

    def build_scheduler(self, optimizer: torch.optim.Optimizer, total_steps: int) -> Any:
        """`cfg.lr_scheduler` after `cfg.warmup_steps` of linear warm-up (transformers.get_scheduler); schedule-free
        AdamW takes none (constant, its warm-up inside the optimizer), so the warm-up is not applied twice."""
        from transformers import get_scheduler

        c = self.cfg
        if c.optimizer == "schedulefree":
            return get_scheduler("constant", optimizer)
        return get_scheduler("constant_with_warmup" if c.lr_scheduler == "constant" else c.lr_scheduler,
                             optimizer, num_warmup_steps=c.warmup_steps, num_training_steps=total_steps)

    def train_weights(self) -> None:
        """Before training steps (at the start of fit, after a resume): the weights the optimizer steps.
        Schedule-free AdamW steps its interpolated point y; a checkpoint holds its average x (see eval_weights)."""
        if self.cfg.optimizer == "schedulefree" and self.optimizer is not None:
            self.optimizer.train()

    @contextlib.contextmanager
    def eval_weights(self) -> Iterator[None]:
        """Around evaluation, checkpoints and the final adapter: the weights to evaluate and save. Schedule-free
        AdamW's are its average x, not the point y it computes gradients at (optimizer.eval() / .train())."""
        switch = self.cfg.optimizer == "schedulefree" and self.optimizer is not None
        if switch:
            self.optimizer.eval()
        try:
            yield
        finally:
            if switch:
                self.optimizer.train()

    def num_trainable(self) -> int:
        return sum(p.numel() for _, p in self.named_trainable())

    def regulariser(self, out: Any) -> torch.Tensor | None:
        """The method's regulariser before weighting (None: it has none)."""
        return None

    def update_and_allocate(self, step: int, lr_scale: float = 1.0, loss: torch.Tensor | None = None) -> None:
        """Once per optimizer step, after optimizer.step() and before zero_grad(); `lr_scale` = lr_t / lr_0,
        `loss` the step's task loss (a device tensor)."""

    def discard_step(self) -> None:
        """Forget what the forward/backward of a skipped (non-finite) step accumulated."""

    def total_rank(self) -> int | torch.Tensor | None:
        """Current total rank budget (a device tensor where reading it would sync)."""
        return None

    # --- state ---------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, torch.Tensor]:
        """Every tensor that training changed (adapter, head, allocator state), contiguous, for safetensors."""
        return {n: p.detach().contiguous() for n, p in self.named_trainable()}

    def load_state_dict(self, sd: dict[str, torch.Tensor], source: str) -> None:
        own = dict(self.named_trainable())
        check_tensors(own, sd, source, "trainable tensors", "another model or method")
        with torch.no_grad():
            for n, p in own.items():
                p.copy_(sd[n])

    def extra_state(self) -> dict[str, Any]:
        """JSON-able state beside the tensors."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Inverse of `extra_state`."""

    def save_adapter(self, directory: Path) -> None:
        """The method's native adapter format (peft / HyperAdaLoRA), plus the loop's own tensor file."""
        directory.mkdir(parents=True, exist_ok=True)
        save_file(self.state_dict(), str(directory / ADAPTER_FILE), metadata={"format": "pt", "method": self.name})


class LoraMethod(Method):
    """peft LoRA (rank `lora_r`, default init_r) on the shared targets; the head via modules_to_save.

    `lora_init` picks peft's start: pissa / pissa_niter_<N> (W's principal singular triplets) or lora_ga (the
    SVD of the mean gradient of W over the run's first `lora_ga_batches` batches, `preprocess_loraga`). Both
    move the start out of the base weights, W_res = W − s·B₀A₀, so the trained adapter (A, B) is only valid on
    W_res; `save_adapter` converts it for the unmodified W: ΔW = s·(BA − B₀A₀) = s·[B | −B₀][A ; A₀], a LoRA
    of rank 2r (peft's `path_initial_model_for_weight_conversion`).
    """

    name = "lora"

    def _peft_config(self, total_steps: int) -> Any:
        from peft import LoraConfig, LoraGAConfig

        init = self.cfg.lora_init
        return LoraConfig(r=self.cfg.lora_r or self.cfg.init_r, lora_alpha=self.cfg.lora_alpha,
                          lora_dropout=self.cfg.lora_dropout, target_modules=list(self.targets),
                          modules_to_save=list(self.heads) or None, task_type=self._task_type(),
                          init_lora_weights=True if init == "default" else init,
                          lora_ga_config=LoraGAConfig() if init == "lora_ga" else None)

    def _task_type(self) -> str:
        return "SEQ_CLS" if self.heads else "CAUSAL_LM"

    def _build(self, model: nn.Module, total_steps: int) -> nn.Module:
        from peft import get_peft_model, get_peft_model_state_dict

        config = self._peft_config(total_steps)
        try:
            if self.cfg.lora_init == "lora_ga":
                self._estimate_gradients(model, config)
            peft_model = get_peft_model(model, config)
        except ValueError as e:  # peft refuses impossible schedules / targets with a ValueError
            raise UserInputError(f"{self.name}: {e}") from None
        # A start subtracted from W (PiSSA, LoRA-GA) is needed again to convert the saved adapter: keep it.
        self._initial = None if self.cfg.lora_init == "default" else \
            {k: v.detach().clone() for k, v in get_peft_model_state_dict(peft_model).items()}
        return peft_model

    def _estimate_gradients(self, model: nn.Module, config: Any) -> None:
        """LoRA-GA's preprocessing: the mean gradient of every target weight over the run's first batches."""
        from peft import preprocess_loraga

        preprocess_loraga(model, config, self.first_batches_step(model, "lora_init=lora_ga"))

    def total_rank(self) -> int:
        return (self.cfg.lora_r or self.cfg.init_r) * len(self.targets)

    def save_adapter(self, directory: Path) -> None:
        super().save_adapter(directory)
        if self._initial is None:
            self.model.save_pretrained(str(directory))  # peft's own format: PeftModel.from_pretrained(base, directory)
            return
        from peft import get_peft_model_state_dict
        from safetensors.torch import load_file

        with tempfile.TemporaryDirectory() as tmp:
            # peft's conversion reads the start as an adapter folder whose config no longer mutates W
            initial = Path(tmp) / "initial"
            config = copy.deepcopy(self.model.peft_config["default"])
            config.init_lora_weights = True
            config.save_pretrained(str(initial))
            save_file(self._initial, str(initial / "adapter_model.safetensors"), metadata={"format": "pt"})
            self.model.save_pretrained(str(directory), path_initial_model_for_weight_conversion=str(initial))
        # peft's conversion returns only lora_A / lora_B: put the trained head (modules_to_save) back beside them.
        path = directory / "adapter_model.safetensors"
        converted = load_file(str(path))
        rest = {k: v.detach().contiguous() for k, v in get_peft_model_state_dict(self.model).items()
                if "lora_A" not in k and "lora_B" not in k and k not in converted}
        if rest:
            save_file({**converted, **rest}, str(path), metadata={"format": "pt"})


class LoraPlusMethod(LoraMethod):
    """LoRA trained by LoRA+ (Hayou et al. 2024): lora_B at `loraplus_lr_ratio` × the rate of lora_A, through
    peft's `create_loraplus_optimizer` (AdamW). The head keeps `head_lr`, as in every method."""

    name = "loraplus"

    def build_optimizer(self) -> torch.optim.Optimizer:
        from peft.optimizers import create_loraplus_optimizer

        c = self.cfg
        head = [p for n, p in self.named_trainable() if self._is_head(n)]
        # peft groups every trainable 1-d tensor with lora_B: hide the head from it, then give it its own group.
        for p in head:
            p.requires_grad_(False)
        try:
            optimizer = create_loraplus_optimizer(self.model, torch.optim.AdamW, lr=self.trained_lr(),
                                                  loraplus_lr_ratio=c.loraplus_lr_ratio,
                                                  loraplus_weight_decay=c.weight_decay)
        finally:
            for p in head:
                p.requires_grad_(True)
        optimizer.param_groups = [g for g in optimizer.param_groups if g["params"]]  # peft's empty embedding group
        if head:
            optimizer.add_param_group({"params": head, "lr": c.head_lr if c.head_lr is not None else c.lr,
                                       "weight_decay": c.weight_decay})
        self.optimizer = optimizer
        return optimizer


class AdaLoraMethod(LoraMethod):
    """peft's real AdaLoRA. The model is called without labels, so peft adds no regulariser itself; the loop
    adds `regulariser()` (peft's definition, reproduced) weighted by orth_reg_weight."""

    name = "adalora"

    def _peft_config(self, total_steps: int) -> Any:
        from peft import AdaLoraConfig

        c = self.cfg
        return AdaLoraConfig(init_r=c.init_r, target_r=c.target_r, lora_alpha=c.lora_alpha, lora_dropout=c.lora_dropout,
                             target_modules=list(self.targets), modules_to_save=list(self.heads) or None,
                             orth_reg_weight=c.orth_reg_weight, tinit=c.tinit, tfinal=c.tfinal, deltaT=c.deltaT,
                             beta1=c.beta1, beta2=c.beta2, total_step=total_steps, task_type=self._task_type())

    def _build(self, model: nn.Module, total_steps: int) -> nn.Module:
        factors = None
        if self.cfg.init_pq == "gradient":  # from the bare model, before peft injects anything
            from ..start import gradient_factors

            factors = gradient_factors(model, self.targets,
                                       self.first_batches_step(model, "init_pq=gradient", self.cfg.seed), self.cfg.init_r)
        peft_model = super()._build(model, total_steps)  # lora_init is refused for adalora: default start
        self.tuner = peft_model.base_model  # AdaLoraModel: update_and_allocate, rankallocator
        adapter = self.tuner.trainable_adapter_name
        if self.cfg.init_pq != "normal":
            self._set_start(factors)
        # peft's AdaLoraModel.forward iterates model.named_parameters() in this order; keep it for equal sums.
        self._orth_params = [("lora_A" in n, p) for n, p in self.tuner.model.named_parameters()
                             if ("lora_A" in n or "lora_B" in n) and adapter in n]
        return peft_model

    @torch.no_grad()
    def _set_start(self, factors: dict[str, tuple[torch.Tensor, torch.Tensor]] | None) -> None:
        """HyperAdaLoRA's init_pq start (start.py) on peft's factors, for a comparison of equal starts: lora_B = P
        (d_out × r), lora_A = Q (r × d_in), lora_E = Λ stays 0; the gradient's singular vectors (`factors`, by
        module name) or random orthonormal ones."""
        from peft.tuners.adalora import AdaLoraLayer

        from ..start import orthonormal

        adapter = self.tuner.trainable_adapter_name
        for name, layer in self.tuner.model.named_modules():
            if isinstance(layer, AdaLoraLayer) and adapter in layer.lora_A:
                A, B = layer.lora_A[adapter], layer.lora_B[adapter]
                P, Q = factors[name] if factors is not None else (
                    orthonormal(B.shape, rows=False, device=B.device), orthonormal(A.shape, rows=True, device=A.device))
                B.copy_(P)
                A.copy_(Q)

    def regulariser(self, out: Any) -> torch.Tensor:
        """peft's AdaLoraModel.forward regulariser: mean over lora_A/lora_B of ‖AAᵀ−I‖_F / ‖BᵀB−I‖_F (unsquared)."""
        total = 0
        for is_a, p in self._orth_params:
            cov = p @ p.T if is_a else p.T @ p  # (r, r)
            eye = torch.eye(*cov.size(), out=torch.empty_like(cov))
            total = total + torch.norm(cov - eye, p="fro")
        return total / len(self._orth_params)

    def update_and_allocate(self, step: int, lr_scale: float = 1.0, loss: torch.Tensor | None = None) -> None:
        self.tuner.update_and_allocate(step)  # reads p.grad: must run before zero_grad()

    def _peft_adalora_config(self) -> Any:
        return self.tuner.peft_config[self.tuner.trainable_adapter_name]

    def total_rank(self) -> int:
        pattern = self._peft_adalora_config().rank_pattern
        if not pattern:
            return self.tuner.rankallocator.init_bgt
        return sum(sum(bool(x) for x in v) for v in pattern.values())

    _EMAS = ("ipt", "exp_avg_ipt", "exp_avg_unc")

    def state_dict(self) -> dict[str, torch.Tensor]:
        sd = super().state_dict()
        alloc = self.tuner.rankallocator
        for kind in self._EMAS:
            sd.update({f"rankallocator.{kind}.{n}": t.detach().contiguous() for n, t in getattr(alloc, kind).items()})
        return sd

    def load_state_dict(self, sd: dict[str, torch.Tensor], source: str) -> None:
        params = {k: v for k, v in sd.items() if not k.startswith("rankallocator.")}
        super().load_state_dict(params, source)
        alloc = self.tuner.rankallocator
        alloc.reset_ipt()
        names = {n for n, _ in self.tuner.model.named_parameters()}
        for key, value in sd.items():
            if key.startswith("rankallocator."):
                _, kind, name = key.split(".", 2)
                if kind not in self._EMAS or name not in names:
                    raise ValueError(f"{source}: unexpected tensor {key}; was it saved from another model or method?")
                getattr(alloc, kind)[name] = value.clone()

    def extra_state(self) -> dict[str, Any]:
        return {"rank_pattern": self._peft_adalora_config().rank_pattern}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self._peft_adalora_config().rank_pattern = state.get("rank_pattern")


# HyperAdaLoraConfig fields the harness sets from something else than a TrainConfig field of the same name;
# every other field of HyperAdaLoraConfig is copied by name (tests/train/test_methods.py checks both stay true).
DERIVED_CORE_FIELDS = frozenset({"target_modules", "total_step", "modules_to_save", "state_lr", "state_weight_decay"})


def hyperadalora_config(cfg: TrainConfig, targets: list[str], heads: list[str], total_steps: int) -> Any:
    """The HyperAdaLoraConfig of a run: shared fields by name, the rest derived from the run."""
    import dataclasses

    from .. import HyperAdaLoraConfig

    names = {f.name for f in dataclasses.fields(HyperAdaLoraConfig)} - DERIVED_CORE_FIELDS
    return HyperAdaLoraConfig(
        **{n: getattr(cfg, n) for n in names},
        target_modules=list(targets), total_step=total_steps, modules_to_save=list(heads) or None,
        state_lr=cfg.lr,  # η: the rate AdaLoRA's Adam would use (the hypernetworks train at meta_lr)
        state_weight_decay=cfg.weight_decay)  # AdamW's decoupled decay, as AdaLoRA's parameters get


class HyperAdaLoraMethod(Method):
    """Ours: hypernetwork-generated SVD adapters; the model returns `orth_loss` even without labels."""

    name = "hyperadalora"

    def _build(self, model: nn.Module, total_steps: int) -> nn.Module:
        from .. import get_hyperadalora_model

        step = self.first_batches_step(model, "init_pq=gradient", self.cfg.seed) if self.cfg.init_pq == "gradient" else None
        try:
            return get_hyperadalora_model(model, hyperadalora_config(self.cfg, self.targets, self.heads, total_steps),
                                          train_step=step)
        except ValueError as e:
            raise UserInputError(str(e)) from None

    def trained_lr(self) -> float:
        """With the gradient rules `lr` is η, the state's rate: the hypernetworks (or per-matrix gains) train at `meta_lr`."""
        return self.cfg.meta_lr if self.cfg.generation in ("gradient", "per_matrix") else self.cfg.lr

    def regulariser(self, out: Any) -> torch.Tensor:
        return out["orth_loss"]

    def update_and_allocate(self, step: int, lr_scale: float = 1.0, loss: torch.Tensor | None = None) -> None:
        self.model.update_and_allocate(step, lr_scale, loss)

    def discard_step(self) -> None:
        self.model.discard_step()  # gradients / sensitivities of a NaN backward must not reach the state

    def total_rank(self) -> torch.Tensor:
        return self.model.mask.sum()  # 0-dim device tensor: read at log time only

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.model.adapter_state_dict()

    def load_state_dict(self, sd: dict[str, torch.Tensor], source: str) -> None:
        self.model.load_adapter_state_dict(sd, source=source)

    def save_adapter(self, directory: Path) -> None:
        super().save_adapter(directory)
        self.model.save_pretrained(directory)


METHOD_CLASSES: dict[str, type[Method]] = {
    "head": Method, "lora": LoraMethod, "loraplus": LoraPlusMethod, "adalora": AdaLoraMethod,
    "hyperadalora": HyperAdaLoraMethod,
}


def build_method(model: nn.Module, cfg: TrainConfig, causal: bool, total_steps: int,
                 data: Data | None = None) -> Method:
    """Wrap `model` for `cfg.method`; the targets are resolved (and checked) first, the same for all methods.
    `data`: the run's training data, needed by a start computed from its batches (lora_init=lora_ga)."""
    heads = head_names(model, causal)
    targets = resolve_targets(model, cfg, heads) if cfg.method != "head" else []
    return METHOD_CLASSES[cfg.method](model, cfg, heads, targets, total_steps, data)
