"""PNG plots of a comparison: task-loss curves (seed mean, min–max band over seeds) and the rank budget.

matplotlib is imported inside the functions (Agg backend), never at package import time.
"""

from __future__ import annotations

from pathlib import Path

from hyperadalora.bench.report import DEFAULT_WINDOW, RunData, mean_curve, smooth

X_AXES = ("step", "seconds")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _x(runs: list[RunData], n: int, x: str) -> list[float]:
    if x == "step":
        return runs[0].steps[:n]
    return mean_curve([r.wall_s[:n] for r in runs])  # seed-mean wall clock at each step


def plot_loss(runs: dict[str, list[RunData]], path: str | Path, x: str = "step", smoothed: bool = True,
              window: int = DEFAULT_WINDOW, target: float | None = None, title: str = "") -> Path:
    """Training task loss per variant: the seed mean as a line, the min–max over seeds as a shaded band.

    `smoothed`: trailing moving average over `window` steps (else the raw per-step loss). `x`: 'step' or
    'seconds' (seed-mean wall-clock). `target`: drawn as a dashed horizontal line.
    """
    if x not in X_AXES:
        raise ValueError(f"x must be one of {X_AXES}, got {x!r}")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for name, rs in runs.items():
        n = min(len(r.steps) for r in rs)
        curves = [smooth(r.task_loss[:n], window) if smoothed else r.task_loss[:n] for r in rs]
        xs = _x(rs, n, x)
        (line,) = ax.plot(xs, mean_curve(curves), label=f"{name} ({len(rs)} seed{'s' if len(rs) > 1 else ''})",
                          linewidth=1.6 if smoothed else 0.9)
        if len(rs) > 1:
            lo = [min(col) for col in zip(*curves, strict=True)]
            hi = [max(col) for col in zip(*curves, strict=True)]
            ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
    if target is not None:
        ax.axhline(target, color="black", linestyle="--", linewidth=0.8, label=f"target {target:.4f}")
    kind = f"smoothed (moving mean over {window} steps)" if smoothed else "raw, per step"
    ax.set_xlabel("optimizer step" if x == "step" else "wall-clock seconds (mean over seeds)")
    ax.set_ylabel("training task loss")
    ax.set_title(f"{title}\ntask loss, {kind}; band = min–max over seeds" if title else
                 f"task loss, {kind}; band = min–max over seeds", fontsize=9)
    return _save(plt, fig, ax, path)


def plot_rank(runs: dict[str, list[RunData]], path: str | Path, x: str = "step", title: str = "") -> Path | None:
    """Total rank budget (sum of unmasked singular values over all adapters) per variant; None if no variant logs it."""
    if x not in X_AXES:
        raise ValueError(f"x must be one of {X_AXES}, got {x!r}")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    drawn = False
    for name, rs in runs.items():
        n = min(len(r.steps) for r in rs)
        pts = [(i, r.total_rank[i]) for r in rs[:1] for i in range(n) if r.total_rank[i] is not None]
        if not pts:
            continue
        xs = _x(rs, n, x)
        ax.step([xs[i] for i, _ in pts], [v for _, v in pts], where="post", label=name)
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("optimizer step" if x == "step" else "wall-clock seconds (mean over seeds)")
    ax.set_ylabel("total rank (unmasked singular values)")
    ax.set_title(f"{title}\nrank budget (first seed)" if title else "rank budget (first seed)", fontsize=9)
    return _save(plt, fig, ax, path)


def write_plots(runs: dict[str, list[RunData]], out_dir: str | Path, x_axes: tuple[str, ...] = X_AXES,
                window: int = DEFAULT_WINDOW, target: float | None = None, title: str = "") -> list[str]:
    """All plots of a comparison into out_dir; returns the file names written."""
    out_dir = Path(out_dir)
    written = []
    for x in x_axes:
        for smoothed in (True, False):
            name = f"loss_{'smoothed' if smoothed else 'raw'}_by_{x}.png"
            plot_loss(runs, out_dir / name, x=x, smoothed=smoothed, window=window, target=target, title=title)
            written.append(name)
        if plot_rank(runs, out_dir / f"rank_by_{x}.png", x=x, title=title) is not None:
            written.append(f"rank_by_{x}.png")
    return written


def _save(plt, fig, ax, path: str | Path) -> Path:
    """Grid, legend, tight layout, write the PNG and free the figure."""
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
