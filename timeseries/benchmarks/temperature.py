"""Seed 003 benchmark: one-step-ahead RMSE and MASE of the stateful LSTM on the last 20% of `sm:elnino` and
`sktime:airline` (modelled in logs, scored in passengers), against persistence, seasonal naive, a stateless
LSTM of the same size and statsmodels SARIMA(1,0,1)(1,1,0)12.

Every model is scored on the same targets: every value in the last 20% (inputs may reach back into the
training range; no training target lies there). The
scaler and SARIMA's parameters are fitted on the training 80% only; SARIMA then filters the whole series
with those parameters, so its forecasts are one step ahead like the LSTM's. MASE scales by the in-sample
MAE of the seasonal naive forecast (m = 12) on the training range.

Budget: 4 LSTM runs of 100 epochs (elnino 2,800 steps, airline 400; measured 15 min wall under a load
average of ~12 on the shared 2-core CPU, about 5 min when it is idle).

    python timeseries/benchmarks/run.py --only temperature [--quick]
"""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

SERIES = (("sm:elnino", False), ("sktime:airline", True))
SEASON = 12


def _lstm(config, run_dir: Path) -> dict:
    from tfzoo.common.registry import get_task
    from tfzoo.common.train import Trainer
    from tfzoo.timeseries.temperature.task import one_step

    trainer = Trainer(task=get_task("timeseries.temperature"), config=config, run_dir=run_dir, verbose=False)
    result = trainer.fit()
    return {"scored": one_step(trainer.models["model"], config, "val", all_targets=True), "steps": result["step"]}


def _sarima(config, index: np.ndarray) -> np.ndarray:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    from tfzoo.timeseries.temperature import data as pipeline

    p = pipeline.prepared(config)
    values, boundary = p["values"], p["boundary"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = SARIMAX(values[:boundary], order=(1, 0, 1), seasonal_order=(1, 1, 0, SEASON)).fit(disp=False)
        mean = fitted.apply(values).get_prediction().predicted_mean
    return pipeline.untransform(config, np.asarray(mean)[index])


def run(quick: bool = False) -> str:
    from tfzoo.timeseries import metrics as m
    from tfzoo.timeseries.temperature.config import TemperatureConfig

    lines = [
        "### timeseries.temperature (seed 003): one-step-ahead forecasts, last 20%",
        "",
        "LSTM(8) + Dense(1) on windows of 20, Adam 1e-3 with inverse-time decay, 100 epochs of batch 20 "
        "(stateful: the state carried between batches and reset each epoch; stateless: every window from zero). "
        f"MASE against the training range's seasonal naive (m = {SEASON}).",
        "",
        "| series | targets | model | RMSE | MASE |",
        "|---|---|---|---|---|",
    ]
    verdicts, met = [], True
    with tempfile.TemporaryDirectory() as tmp:
        for spec, log in SERIES:
            config = replace(TemperatureConfig(), data=spec, log=log)
            if quick:
                config = replace(config, train=replace(config.train, steps=6, eval_every=6, ckpt_every=6))
            stateful = _lstm(config, Path(tmp, spec.replace(":", "_"), "stateful"))
            stateless = _lstm(replace(config, stateful=False), Path(tmp, spec.replace(":", "_"), "stateless"))
            scored = stateful["scored"]
            index, truth, values = scored["index"], scored["truth"], scored["values"]
            insample = values[: scored["boundary"]]
            forecasts = {
                f"stateful LSTM ({stateful['steps']} steps)": scored["predicted"],
                "stateless LSTM, same size": stateless["scored"]["predicted"],
                "persistence": values[index - 1],
                f"seasonal naive (m={SEASON})": values[index - SEASON],
                "SARIMA(1,0,1)(1,1,0)12": _sarima(config, index),
            }
            errors = {}
            for name, forecast in forecasts.items():
                errors[name] = m.rmse(truth, forecast)
                lines.append(f"| {spec}{' (log)' if log else ''} | {len(index)} | {name} | {errors[name]:.4f} | "
                             f"{m.mase(truth, forecast, insample, m=SEASON):.3f} |")
            lstm = next(iter(errors.values()))
            if spec == "sm:elnino":
                met = lstm < errors["persistence"] and lstm < errors[f"seasonal naive (m={SEASON})"]
            verdicts.append(f"{spec}: stateful LSTM RMSE {lstm:.4f} vs seasonal naive "
                            f"{errors[f'seasonal naive (m={SEASON})']:.4f}, SARIMA {errors['SARIMA(1,0,1)(1,1,0)12']:.4f}")
    lines += ["", "Goal: the stateful LSTM beats persistence and seasonal naive on elnino (the slow test's gate); "
              f"SARIMA and the stateless LSTM are reported as they come. Met: {'yes' if met else 'no'}. "
              + "; ".join(verdicts) + "."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    print(run(quick="--quick" in sys.argv))
