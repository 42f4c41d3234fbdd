"""The estimator interface every TFTS-like model shares: train, evaluate, predict, simulate, save, export.

TFTS (S0 L17980-L18018) coupled `predict` to a prior `evaluate` that wrote summaries. Here an estimator
keeps the filter state of its training series: `predict` with no state filters the training series once
and caches the state, so it needs nothing else first. Training runs the common trainer
(`tfzoo.common.train.Trainer`) through a small adapter task, so it has checkpoints, resume after a kill
and TensorBoard in `model_dir`.

A subclass implements five hooks (all tensor code, traced by `tf.function`; states are flat dicts of
fixed-shape tensors without a batch axis):

- `_build_model() -> keras.Model`: create every variable (use `add_weight` or layers; the variables must
  exist on return). `self.num_features` (F) and `self.exogenous_size` (E) are known by then.
- `_initial_state() -> dict[str, Tensor]`: the state before the first observation.
- `_training_loss(batch, training) -> scalar`: the loss on a batch from `RandomWindowInput` or
  `WholeSeriesInput`: `{TIMES [B, W] float64, VALUES [B, W, F] (0 where missing), MASK [B, W, F] bool,
  EXOGENOUS [B, W, E]}` in `self.dtype`.
- `_filter(state, times [T], values [T, F], mask [T, F], exogenous [T, E])
  -> (state, mean [T, F], covariance [T, F, F], loss)`: one-step-ahead predictions of each value given
  the ones before it, the state after the last one, and the mean loss per observed value.
- `_forecast(state, times [H], exogenous [H, E]) -> (mean [H, F], covariance [H, F, F], state)`:
  predictions of the next H times with no new observations, and the state after them.

Optional: `_prepare(data)` sees the training series before training (fit input scaling there), and
`default_window_size()` names the window length training must use.

Every state also carries `"time"` (float64 scalar, the last time filtered or forecast); the base class
sets it, and hooks may read it. Subclasses also extend `get_config()` with their constructor arguments.
"""

from __future__ import annotations

import importlib
import json
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfzoo.common.data import DataSplit
from tfzoo.common.errors import ConfigError, DataError, UserError
from tfzoo.common.optim import OptimConfig, build_optimizer
from tfzoo.common.task import Task, TrainState
from tfzoo.common.train import TrainConfig
from tfzoo.timeseries.tfts import io

TIME_KEY = "time"


@dataclass
class Evaluation:
    """One-step-ahead fit over a series: `mean [T, F]`, `covariance [T, F, F]` and the state at its end."""

    times: np.ndarray
    observed: np.ndarray
    mean: np.ndarray
    covariance: np.ndarray
    loss: float
    state: dict[str, np.ndarray]
    anomaly_probability: np.ndarray | None = None  # [T, F] where the model has an anomaly mixture


@dataclass
class Forecast:
    """Predictions of future times: `mean [H, F]` and `covariance [H, F, F]`."""

    times: np.ndarray
    mean: np.ndarray
    covariance: np.ndarray

    @property
    def std(self) -> np.ndarray:
        """Per-feature standard deviations `[H, F]`."""
        return np.sqrt(np.maximum(np.diagonal(self.covariance, axis1=-2, axis2=-1), 0.0))


class Estimator:
    """Base class of the TFTS-like estimators (see the module docstring for the hooks).

    Args:
        num_features: F, the number of value columns.
        exogenous_features: `io.Numeric` / `io.Categorical` columns the model conditions on.
        model_dir: where `train` keeps checkpoints and TensorBoard logs (a temporary folder by default).
        optimizer: an optimiser name (`adam`, `sgd`, ...) or a Keras optimiser.
        learning_rate: its learning rate when given by name.
        clip_norm: global gradient-norm clipping; 0 is off.
        dtype: the float type of values and variables (`float64` for Kalman filters).
    """

    def __init__(
        self,
        *,
        num_features: int = 1,
        exogenous_features: tuple = (),
        model_dir: str | Path | None = None,
        optimizer: str | keras.optimizers.Optimizer = "adam",
        learning_rate: float = 0.01,
        clip_norm: float = 0.0,
        dtype: str = "float32",
    ) -> None:
        if int(num_features) < 1:
            raise ConfigError(f"num_features={num_features}; expected >= 1")
        self.num_features = int(num_features)
        self.exogenous_features = tuple(
            io.feature_from_dict(f) if isinstance(f, dict) else f for f in exogenous_features
        )
        names = [f.name for f in self.exogenous_features]
        if len(set(names)) != len(names) or {io.TIMES, io.VALUES} & set(names):
            raise ConfigError(f"exogenous feature names {names} must be unique and not {io.TIMES!r}/{io.VALUES!r}")
        self.exogenous_size = io.exogenous_size(self.exogenous_features)
        self._model_dir = Path(model_dir) if model_dir else None
        if isinstance(optimizer, dict):
            optimizer = keras.optimizers.deserialize(optimizer)
        self.optimizer = optimizer
        self.learning_rate = float(learning_rate)
        self.clip_norm = float(clip_norm)
        self.dtype = str(dtype)
        self.time_step = 1.0
        self._model: keras.Model | None = None
        self._state: dict[str, np.ndarray] | None = None  # the filter state at the end of the training series
        self._train_data: dict[str, np.ndarray] | None = None
        self._source = ""
        self._compiled: dict[str, Any] = {}

    # ----- hooks (see the module docstring) -----------------------------------------------------------------
    def _build_model(self) -> keras.Model:
        raise NotImplementedError

    def _initial_state(self) -> dict[str, tf.Tensor]:
        raise NotImplementedError

    def _training_loss(self, batch: dict[str, tf.Tensor], training: bool) -> tf.Tensor:
        raise NotImplementedError

    def _filter(self, state, times, values, mask, exogenous):
        raise NotImplementedError

    def _forecast(self, state, times, exogenous):
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """The JSON-ready constructor arguments (subclasses add theirs)."""
        optimizer = self.optimizer
        if not isinstance(optimizer, str):
            optimizer = keras.optimizers.serialize(optimizer)
        return {
            "num_features": self.num_features,
            "exogenous_features": [f.to_dict() for f in self.exogenous_features],
            "optimizer": optimizer,
            "learning_rate": self.learning_rate,
            "clip_norm": self.clip_norm,
            "dtype": self.dtype,
        }

    def _prepare(self, data: dict[str, np.ndarray]) -> None:
        """Called with the training series (on its regular grid) before training: fit input scaling here."""

    def model_inputs(self, batch: dict[str, tf.Tensor]) -> Any:
        """What `self.model(...)` takes, made from a training batch (the CLI tasks use it); default the batch."""
        return batch

    @property
    def model_dir(self) -> Path:
        """The training folder; a temporary one is made on first use when none was given."""
        if self._model_dir is None:
            self._model_dir = Path(tempfile.mkdtemp(prefix="tfts-"))
        return self._model_dir

    def default_window_size(self) -> int | None:
        """The window length training expects (None: any); `train` checks a RandomWindowInput against it."""
        return None

    # ----- the model and its state ------------------------------------------------------------------------
    @property
    def model(self) -> keras.Model:
        """The Keras model holding every variable (built on first use)."""
        if self._model is None:
            self._model = self._build_model()
        return self._model

    def initial_state(self) -> dict[str, np.ndarray]:
        """The state before any observation, with `time` unset (NaN)."""
        self.model  # noqa: B018 - variables first
        state = {k: np.asarray(v) for k, v in self._initial_state().items()}
        state[TIME_KEY] = np.asarray(np.nan, np.float64)
        return state

    def state_spec(self) -> dict[str, tf.TensorSpec]:
        """Shapes and dtypes of the state's tensors."""
        return {k: tf.TensorSpec(v.shape, tf.as_dtype(v.dtype), name=f"state_{k}") for k, v in self.initial_state().items()}

    def _filter_with_time(self, state, times, values, mask, exogenous):
        new_state, mean, covariance, loss = self._filter(dict(state), times, values, mask, exogenous)
        new_state = dict(new_state)
        new_state[TIME_KEY] = tf.cast(times[-1], tf.float64)
        return new_state, mean, covariance, loss

    def _forecast_with_time(self, state, times, exogenous):
        mean, covariance, new_state = self._forecast(dict(state), times, exogenous)
        new_state = dict(new_state)
        new_state[TIME_KEY] = tf.cast(times[-1], tf.float64)
        return mean, covariance, new_state

    def _compiled_fn(self, name: str):
        """`filter` / `forecast` as tf.functions with fixed signatures (no retracing per length)."""
        if name not in self._compiled:
            state = self.state_spec()
            dtype = tf.as_dtype(self.dtype)
            times = tf.TensorSpec([None], tf.float64)
            exog = tf.TensorSpec([None, self.exogenous_size], dtype)
            if name == "filter":
                values = tf.TensorSpec([None, self.num_features], dtype)
                mask = tf.TensorSpec([None, self.num_features], tf.bool)
                fn = tf.function(self._filter_with_time, input_signature=[state, times, values, mask, exog])
            else:
                fn = tf.function(self._forecast_with_time, input_signature=[state, times, exog])
            self._compiled[name] = fn
        return self._compiled[name]

    def _as_state(self, state: dict[str, Any]) -> dict[str, tf.Tensor]:
        spec = self.state_spec()
        missing = set(spec) - set(state)
        if missing:
            raise ConfigError(f"state lacks {', '.join(sorted(missing))}; pass a state returned by this estimator")
        return {k: tf.convert_to_tensor(np.asarray(state[k]), s.dtype) for k, s in spec.items()}

    # ----- workflow ---------------------------------------------------------------------------------------------
    def train(self, input: Any, steps: int, *, verbose: bool = False, log_every: int = 0,
              ckpt_every: int = 0) -> Estimator:
        """Train `steps` more steps on `input` (a RandomWindowInput or WholeSeriesInput) with the common trainer.

        Checkpoints and TensorBoard logs go to `model_dir`; a new estimator with the same arguments and
        `model_dir` resumes from the newest checkpoint (after a kill, too).
        """
        from tfzoo.common.train import Trainer

        if steps < 0:
            raise ConfigError(f"steps={steps}; expected >= 0")
        data = self._remember_training_series(input)
        task = EstimatorTask(self, input)
        window = getattr(input, "window_size", 0)
        expected = self.default_window_size()
        if window and expected and window != expected:
            raise ConfigError(f"{type(self).__name__} trains on windows of exactly {expected} steps; "
                              f"got window_size={window}")
        start = checkpoint_step(self.model_dir / "checkpoints")
        total = start + int(steps)
        config = task.run_config(
            data=self._source,
            window_size=window,
            train=TrainConfig(
                steps=total,
                batch_size=getattr(input, "batch_size", 1),
                seed=getattr(input, "seed", 0),
                log_every=log_every or max(1, min(100, int(steps) // 10 or 1)),
                eval_every=10**9,
                ckpt_every=ckpt_every or max(1, int(steps)),
                keep=2,
            ),
        )
        del data
        _check_same_estimator(self.model_dir, config)
        # Another input or batch size between calls is fine (TFTS allowed it); another model is not.
        Trainer(task=task, config=config, run_dir=self.model_dir, verbose=verbose, force=True).fit()
        self._state = None  # the weights changed: refilter on the next predict
        return self

    def _remember_training_series(self, input: Any) -> dict[str, np.ndarray]:
        data = input.read()
        if data[io.VALUES].shape[1] != self.num_features:
            raise DataError(f"{io._source(input.reader)}: {data[io.VALUES].shape[1]} value columns; this estimator "
                            f"has num_features={self.num_features}")
        self._train_data = data
        self._source = io._source(input.reader)
        self.time_step = io.time_step(data[io.TIMES])
        self._prepare(data)
        return data

    def evaluate(self, input: Any = None) -> Evaluation:
        """One-step-ahead predictions over a whole series (default: the training series); writes nothing."""
        if input is None:
            data = self._require_training_series("evaluate")
        else:
            data = input.read() if hasattr(input, "read") else io.regularise(input)
            if self._train_data is None:
                self.time_step = io.time_step(data[io.TIMES])
        return self._evaluate_arrays(data)

    def _evaluate_arrays(self, data: dict[str, np.ndarray], state: dict[str, Any] | None = None) -> Evaluation:
        arrays = io.batch_arrays(data, self.exogenous_features, source=self._source, dtype=self.dtype)
        if state is None:
            state = self.initial_state()
            state[TIME_KEY] = np.asarray(arrays[io.TIMES][0] - self.time_step, np.float64)
        out_state, mean, covariance, loss = self._compiled_fn("filter")(
            self._as_state(state), arrays[io.TIMES], arrays[io.VALUES], arrays[io.MASK], arrays[io.EXOGENOUS]
        )
        observed = np.where(arrays[io.MASK], arrays[io.VALUES], np.nan)
        return Evaluation(
            times=arrays[io.TIMES], observed=observed, mean=mean.numpy(), covariance=covariance.numpy(),
            loss=float(loss), state={k: v.numpy() for k, v in out_state.items()},
        )

    def filter(self, state: dict[str, Any] | None, times: Any, values: Any, exogenous: dict | None = None
               ) -> Evaluation:
        """Continue filtering from `state` (None: from the start) over new observations (NaN = missing)."""
        values = np.asarray(values, np.float64)
        data = {io.TIMES: np.asarray(times, np.float64).reshape(-1),
                io.VALUES: values.reshape(len(values), -1), **(exogenous or {})}
        io.check_times(data[io.TIMES], source="filter times")
        return self._evaluate_arrays(data, state)

    def _require_training_series(self, what: str) -> dict[str, np.ndarray]:
        if self._train_data is None:
            raise UserError(f"{what} without an input needs a trained estimator (call train(...) first) "
                            "or pass the input/state")
        return self._train_data

    @property
    def state(self) -> dict[str, np.ndarray]:
        """The filter state at the end of the training series (filtered once, then cached)."""
        if self._state is None:
            self._state = self._evaluate_arrays(self._require_training_series("predict")).state
        return self._state

    def future_times(self, state: dict[str, Any], steps: int) -> np.ndarray:
        last = float(np.asarray(state[TIME_KEY]))
        return last + self.time_step * np.arange(1, int(steps) + 1, dtype=np.float64)

    def predict(self, steps: int, state: dict[str, Any] | None = None, exogenous: dict | None = None) -> Forecast:
        """Forecast `steps` periods after `state` (default: the end of the training series).

        Exogenous features need their future values: `exogenous={name: [steps values]}`.
        """
        if steps < 1:
            raise ConfigError(f"steps={steps}; expected >= 1")
        state = self.state if state is None else state
        times = self.future_times(state, steps)
        exog = io.encode_exogenous(self.exogenous_features, exogenous or {}, len(times), source="predict",
                                   purpose=f"the {steps} forecast steps").astype(self.dtype)
        mean, covariance, _ = self._compiled_fn("forecast")(self._as_state(state), times, exog)
        return Forecast(times=times, mean=mean.numpy(), covariance=covariance.numpy())

    def simulate(self, steps: int, n_paths: int = 1, seed: int = 0, state: dict[str, Any] | None = None,
                 exogenous: dict | None = None) -> np.ndarray:
        """`[n_paths, steps, F]` sampled futures: predict one step, draw N(mean, cov), filter the draw back in."""
        state = self.state if state is None else state
        times = self.future_times(state, steps)
        exog = io.encode_exogenous(self.exogenous_features, exogenous or {}, len(times), source="simulate",
                                   purpose=f"the {steps} simulated steps").astype(self.dtype)
        rng = np.random.default_rng(seed)
        forecast, filter_ = self._compiled_fn("forecast"), self._compiled_fn("filter")
        mask = np.ones((1, self.num_features), bool)
        paths = np.zeros((n_paths, steps, self.num_features), np.float64)
        for p in range(n_paths):
            s = self._as_state(state)
            for k in range(steps):
                mean, cov, _ = forecast(s, times[k:k + 1], exog[k:k + 1])
                draw = rng.multivariate_normal(mean.numpy()[0].astype(np.float64), _psd(cov.numpy()[0]))
                paths[p, k] = draw
                s, _, _, _ = filter_(s, times[k:k + 1], draw[None].astype(self.dtype), mask, exog[k:k + 1])
        return paths

    # ----- persistence -------------------------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write `estimator.json` (class and arguments), the weights and the last filter state."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "class": f"{type(self).__module__}:{type(self).__qualname__}",
            "config": self.get_config(),
            "time_step": self.time_step,
            "source": self._source,
        }
        (directory / "estimator.json").write_text(json.dumps(meta, indent=2) + "\n")
        tf.train.Checkpoint(model=self.model).write(str(directory / "weights"))
        state = self._state if self._state is not None or self._train_data is None else self.state
        if state is not None:
            np.savez(directory / "state.npz", **state)
        return directory

    @classmethod
    def load(cls, directory: str | Path, *, model_dir: str | Path | None = None) -> Estimator:
        """Rebuild a saved estimator with its weights; `predict` continues from the saved state."""
        directory = Path(directory)
        try:
            meta = json.loads((directory / "estimator.json").read_text())
        except FileNotFoundError:
            raise UserError(f"{directory}: no estimator.json; not a saved estimator") from None
        module, _, name = meta["class"].partition(":")
        klass = getattr(importlib.import_module(module), name)
        estimator = klass.from_config(meta["config"], model_dir=model_dir)
        estimator.time_step = float(meta["time_step"])
        estimator._source = meta.get("source", "")
        tf.train.Checkpoint(model=estimator.model).read(str(directory / "weights")).assert_existing_objects_matched()
        if (directory / "state.npz").exists():
            with np.load(directory / "state.npz") as saved:
                estimator._state = {k: saved[k] for k in saved.files}
        return estimator

    @classmethod
    def from_config(cls, config: dict[str, Any], **kwargs: Any) -> Estimator:
        return cls(**config, **{k: v for k, v in kwargs.items() if v is not None})

    def signatures(self) -> dict[str, Any]:
        """`predict_continuation` and `filter_continuation` as tf.functions with flat, named inputs.

        Each state tensor is `state_<name>`. `predict_continuation(state_*, times, exogenous) -> mean,
        covariance, state_*`; `filter_continuation(state_*, times, values, exogenous) -> state_*` (values
        NaN where missing).
        """
        spec = self.state_spec()
        keys = list(spec)
        dtype = tf.as_dtype(self.dtype)
        forecast, filter_ = self._forecast_with_time, self._filter_with_time

        def unflatten(args):
            return dict(zip(keys, args[:len(keys)])), args[len(keys):]

        def flat_state(state):
            return {f"state_{k}": state[k] for k in keys}

        times_spec = tf.TensorSpec([None], tf.float64, name="times")
        exog_spec = tf.TensorSpec([None, self.exogenous_size], dtype, name="exogenous")
        values_spec = tf.TensorSpec([None, self.num_features], dtype, name="values")

        @tf.function(input_signature=[*spec.values(), times_spec, exog_spec])
        def predict_continuation(*args):
            state, (times, exogenous) = unflatten(args)
            mean, covariance, new_state = forecast(state, times, exogenous)
            return {"mean": mean, "covariance": covariance, **flat_state(new_state)}

        @tf.function(input_signature=[*spec.values(), times_spec, values_spec, exog_spec])
        def filter_continuation(*args):
            state, (times, values, exogenous) = unflatten(args)
            mask = tf.math.is_finite(values)
            new_state, _, _, _ = filter_(state, times, tf.where(mask, values, tf.zeros_like(values)), mask, exogenous)
            return flat_state(new_state)

        return {"predict_continuation": predict_continuation, "filter_continuation": filter_continuation}

    def export(self, directory: str | Path) -> Path:
        """A SavedModel with the `signatures()` and, when known, `last_state()`: the state saved with it."""
        directory = Path(directory)
        spec = self.state_spec()
        signatures = self.signatures()
        module = tf.Module()
        module.model = self.model
        module.predict_continuation = signatures["predict_continuation"]
        module.filter_continuation = signatures["filter_continuation"]
        saved = self._state if self._state is not None or self._train_data is None else self.state
        if saved is not None:
            constants = {f"state_{k}": tf.constant(np.asarray(saved[k]), s.dtype) for k, s in spec.items()}
            module.last_state = tf.function(lambda: constants, input_signature=[])
            signatures["last_state"] = module.last_state
        tf.saved_model.save(module, str(directory), signatures=signatures)
        (directory / "time_step.json").write_text(json.dumps({"time_step": self.time_step}) + "\n")
        return directory


def state_to_signature(state: dict[str, Any]) -> dict[str, Any]:
    """A Python state as the `state_<name>` keyword arguments of the exported signatures."""
    return {f"state_{k}": v for k, v in state.items()}


def state_from_signature(outputs: dict[str, Any]) -> dict[str, np.ndarray]:
    """The state part of an exported signature's outputs, as a Python state."""
    return {k.removeprefix("state_"): np.asarray(v) for k, v in outputs.items() if k.startswith("state_")}


def _check_same_estimator(model_dir: Path, config: EstimatorRunConfig) -> None:
    path = model_dir / "config.json"
    if not path.exists():
        return
    try:
        previous = json.loads(path.read_text()).get("estimator")
    except (OSError, ValueError):
        return
    if previous is not None and json.loads(previous) != json.loads(config.estimator):
        raise ConfigError(f"{model_dir} holds checkpoints of another estimator configuration; "
                          "use another model_dir")


def _psd(cov: np.ndarray) -> np.ndarray:
    cov = np.asarray(cov, np.float64)
    return (cov + cov.T) / 2.0


def checkpoint_step(directory: Path) -> int:
    """The step count of the newest checkpoint in `directory` (0 when there is none)."""
    path = tf.train.latest_checkpoint(str(directory))
    if path is None:
        return 0
    try:
        return int(tf.train.load_variable(path, "step/.ATTRIBUTES/VARIABLE_VALUE"))
    except (tf.errors.NotFoundError, ValueError):
        return 0


# ----- the adapter onto the common trainer ------------------------------------------------------------------------
@dataclass(frozen=True)
class EstimatorRunConfig:
    """What the trainer records for an estimator run (config.json): the estimator and how it trains."""

    estimator: str = "{}"  # class and constructor arguments as JSON; a resume must match it
    data: str = ""
    window_size: int = 0  # 0: the whole series as one batch
    train: TrainConfig = field(default_factory=TrainConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)


def estimator_examples(estimator: Estimator, data: dict[str, np.ndarray], window_size: int) -> DataSplit:
    """The unbatched training examples: every window of `window_size` (or the whole series as one)."""
    if window_size:
        arrays = io.window_arrays(data, window_size, estimator.exogenous_features, source=estimator._source,
                                  dtype=estimator.dtype)
    else:
        arrays = {k: v[None] for k, v in io.batch_arrays(data, estimator.exogenous_features,
                                                         source=estimator._source, dtype=estimator.dtype).items()}
    return DataSplit(tf.data.Dataset.from_tensor_slices(arrays), len(arrays[io.TIMES]))


def estimator_loss(estimator: Estimator, batch: dict[str, tf.Tensor]) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """This replica's share of the estimator's training loss (shared by EstimatorTask and the CLI tasks).

    `TrainState.minimize` differentiates, clips at `optim.clip_norm` and applies it. The loss may be
    float64 (the Kalman likelihood); the logged "loss" stays float32, as the trainer has always logged it.
    """
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    scaled = estimator._training_loss(batch, True) / replicas
    return scaled, {"loss": tf.cast(scaled, tf.float32)}


class EstimatorTask(Task):
    """Runs an estimator's training loss on the common trainer (checkpoints, resume, TensorBoard)."""

    name = "timeseries.tfts"
    config_class = EstimatorRunConfig
    description = "a tfzoo.timeseries.tfts estimator trained from Python"

    def __init__(self, estimator: Estimator, input: Any) -> None:
        self.estimator = estimator
        self.input = input

    def run_config(self, **kwargs: Any) -> EstimatorRunConfig:
        est = self.estimator
        blob = json.dumps({"class": f"{type(est).__module__}:{type(est).__qualname__}", **est.get_config()},
                          sort_keys=True)
        optimizer = est.optimizer if isinstance(est.optimizer, str) else "custom"
        optim = replace(OptimConfig(), optimizer=optimizer, lr=est.learning_rate, clip_norm=est.clip_norm)
        return EstimatorRunConfig(estimator=blob, optim=optim, **kwargs)

    def data(self, config: EstimatorRunConfig, split: str):
        if split != "train":
            return None
        return estimator_examples(self.estimator, self.estimator._train_data, config.window_size)

    def data_info(self, config: EstimatorRunConfig, train: Any) -> dict[str, Any]:
        return {"time_step": self.estimator.time_step, "num_features": self.estimator.num_features}

    def build_models(self, config: EstimatorRunConfig, info: dict[str, Any]) -> dict[str, keras.Model]:
        return {"model": self.estimator.model}

    def build_optimizers(self, config, models, *, total_steps: int):
        optimizer = self.estimator.optimizer
        if isinstance(optimizer, str):
            return {"model": build_optimizer(config.optim, total_steps=total_steps)}
        # A fresh copy each time: the trainer builds and restores the slots from the checkpoint.
        return {"model": optimizer.__class__.from_config(optimizer.get_config())}

    def compute_loss(self, state: TrainState, batch: Any) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        return estimator_loss(self.estimator, batch)

    def metrics(self, config, info):
        return {}
