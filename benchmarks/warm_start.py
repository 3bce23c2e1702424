"""Train a warm start for the gradient rule's hypernetworks: a chain of ordinary training runs, each starting Φ
where the previous one left it (its hypernet_init), the last run's Φ written as a warm start
(hyperadalora.warm_start: safetensors, checksummed, with the list of runs it saw in its metadata).

Every link is one run of the protocol (an experiment file's variant on a task, `hyperadalora compare`'s settings) at
the seed named: keep those seeds apart from the seeds a warm start is judged on (0-2). A link is
EXPERIMENT:TASK:SEED (TASK `instruct` for the NLG experiment); the variant is `default` unless --variant says
otherwise; --start continues from an earlier warm start (its list of runs is carried on). Finished links (their
folder holds summary.json) are reused.

    python benchmarks/warm_start.py --out runs/warm --link defaults:sst2:10 --link defaults:mrpc:11

writes runs/warm/link<K>/ (each run folder), runs/warm/warm_link<K>.safetensors (Φ after each link) and
runs/warm/warm_start.safetensors (the last link's).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from safetensors import safe_open

    from hyperadalora.bench.compare import parse_assignments, train_with_harness
    from hyperadalora.bench.experiments import build_plan
    from hyperadalora.warm_start import warm_start_from_adapter

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--link", action="append", required=True, help="EXPERIMENT:TASK:SEED (repeatable, in order)")
    p.add_argument("--variant", default="default")
    p.add_argument("--set", action="append", default=[], help="FIELD=VALUE for every run (repeatable)")
    p.add_argument("--start", default="zero", help="hypernet_init of the first link: 'zero' or a warm start file")
    args = p.parse_args(argv)
    extra = parse_assignments(args.set, "--set")
    args.out.mkdir(parents=True, exist_ok=True)
    init, seen = args.start, []
    if init != "zero":  # continue the list of runs the starting file saw
        with safe_open(init, framework="pt") as f:
            seen = json.loads((f.metadata() or {}).get("trained_on", "[]"))
    command = f"python benchmarks/warm_start.py {' '.join(sys.argv[1:] if argv is None else argv)}"
    for k, link in enumerate(args.link):
        experiment, task, seed = link.split(":")
        plan = build_plan(experiment, task=None if task == "instruct" else task)
        variant = next(v for v in plan.variants if v.name == args.variant)
        run_dir = args.out / f"link{k}"
        fields = {**plan.train_fields(variant, int(seed), str(run_dir)), **extra, "hypernet_init": init}
        if not (run_dir / "summary.json").is_file():
            print(f"link {k}: {link} from {init}", flush=True)
            train_with_harness({**fields, "overwrite": run_dir.exists()})
        summary = json.loads((run_dir / "summary.json").read_text())
        seen.append(f"{plan.model}/{plan.task} seed {seed}, {fields.get('max_steps')} steps, variant {args.variant}")
        init = str(args.out / f"warm_link{k}.safetensors")
        digest = warm_start_from_adapter(run_dir / "adapter", init, trained_on=list(seen), notes=command)
        print(f"link {k}: final metrics {summary.get('final_metrics')}, Φ -> {init} ({digest[:12]})", flush=True)
    shutil.copyfile(init, args.out / "warm_start.safetensors")
    print(f"warm start: {args.out / 'warm_start.safetensors'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
