"""Optimisers, schedules, plateau decay, EMA and regularisers against the book's oracles."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfzoo.common.errors import ConfigError
from tfzoo.common.optim import (
    OPTIMIZERS,
    LinearWarmup,
    OptimConfig,
    PlateauDecay,
    WeightEMA,
    build_optimizer,
    build_plateau,
    build_schedule,
    clip_gradients,
)
from tfzoo.common.regularize import l1, l2


def _lr(schedule, step):
    return float(schedule(step)) if callable(schedule) else float(schedule)


def _current_lr(opt):
    return float(tf.convert_to_tensor(opt.learning_rate).numpy())


def test_exponential_oracle():
    # 实例26 (S0 L5044-L5067); the book's labels are one step ahead.
    cfg = OptimConfig(lr=0.1, schedule="exponential", decay_steps=10, decay_rate=0.9)
    sched = build_schedule(cfg, total_steps=100)
    assert _lr(sched, 1) == pytest.approx(0.0989519, abs=1e-7)
    assert _lr(sched, 10) == pytest.approx(0.09, abs=1e-7)
    assert _lr(sched, 19) == pytest.approx(0.0818579, abs=1e-7)


def test_staircase_oracle_through_sgd():
    # S1 L662-L715: minimise x^2 from x=5 with 0.1 * 0.96^floor(step), 91 steps.
    cfg = OptimConfig(optimizer="sgd", lr=0.1, schedule="step", decay_steps=1, decay_rate=0.96)
    opt = build_optimizer(cfg, total_steps=100)
    x = keras.Variable(5.0)
    for step in range(91):
        opt.apply_gradients([(2.0 * tf.convert_to_tensor(x), x)])
        if step == 0:
            assert float(x.numpy()) == pytest.approx(4.0)
    assert float(x.numpy()) == pytest.approx(0.028727, abs=2e-6)
    assert _current_lr(opt) == pytest.approx(0.002436, abs=1e-6)
    # Staircase floors step / decay_steps (the book's "no decay" reading is wrong).
    stairs = build_schedule(dataclasses.replace(cfg, decay_steps=10), total_steps=100)
    assert _lr(stairs, 9) == pytest.approx(0.1) and _lr(stairs, 10) == pytest.approx(0.096)


def test_other_schedules():
    cos = build_schedule(OptimConfig(lr=0.2, schedule="cosine"), total_steps=100)
    assert _lr(cos, 0) == pytest.approx(0.2) and _lr(cos, 50) == pytest.approx(0.1) and _lr(cos, 100) < 1e-6
    pw = build_schedule(OptimConfig(schedule="piecewise", boundaries=(10, 20), values=(1.0, 0.5, 0.1)), total_steps=30)
    assert [_lr(pw, s) for s in (0, 15, 25)] == pytest.approx([1.0, 0.5, 0.1])
    inv = build_schedule(OptimConfig(lr=1.0, schedule="inverse_time", decay_steps=1, decay_rate=0.5), total_steps=9)
    assert _lr(inv, 2) == pytest.approx(0.5)
    noam = build_schedule(OptimConfig(lr=1.0, schedule="noam", warmup_steps=4), total_steps=100)
    assert _lr(noam, 1) == pytest.approx(0.5) and _lr(noam, 3) == pytest.approx(1.0)
    assert _lr(noam, 15) == pytest.approx(0.5)
    assert build_schedule(OptimConfig(lr=0.3), total_steps=1) == 0.3


def test_linear_warmup():
    cfg = OptimConfig(lr=0.1, schedule="exponential", decay_steps=10, decay_rate=0.9, warmup_steps=10)
    sched = build_schedule(cfg, total_steps=100)
    assert isinstance(sched, LinearWarmup)
    assert _lr(sched, 0) == 0.0
    assert _lr(sched, 5) == pytest.approx(0.045, abs=1e-7)
    assert _lr(sched, 10) == pytest.approx(0.09, abs=1e-7)
    assert _lr(sched, 19) == pytest.approx(0.0818579, abs=1e-7)
    const = build_schedule(OptimConfig(lr=0.2, warmup_steps=4), total_steps=10)
    assert [_lr(const, s) for s in (1, 4, 9)] == pytest.approx([0.05, 0.2, 0.2])


@pytest.mark.parametrize(
    "cfg",
    [
        OptimConfig(schedule="exponential", decay_steps=10, warmup_steps=3),
        OptimConfig(schedule="noam", warmup_steps=3),
        OptimConfig(schedule="cosine"),
    ],
    ids=["warmup-exponential", "noam", "cosine"],
)
def test_schedule_survives_optimizer_config(cfg):
    opt = build_optimizer(cfg, total_steps=50)
    restored = keras.optimizers.Adam.from_config(opt.get_config())
    for step in (0, 2, 7, 40):
        assert _lr(restored._learning_rate, step) == pytest.approx(_lr(opt._learning_rate, step))


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_each_optimizer_applies_a_step(name):
    cfg = OptimConfig(optimizer=name, lr=0.1, momentum=0.5 if name in ("sgd", "rmsprop") else 0.0, weight_decay=0.01)
    opt = build_optimizer(cfg, total_steps=10)
    w = keras.Variable(np.ones(3, np.float32))
    opt.apply_gradients([(tf.constant([1.0, -1.0, 0.5]), w)])
    assert int(opt.iterations.numpy()) == 1
    assert not np.allclose(w.numpy(), 1.0)


def test_config_errors():
    with pytest.raises(ConfigError, match="valid: sgd, adam, adamw"):
        build_optimizer(OptimConfig(optimizer="lamb"), total_steps=1)
    with pytest.raises(ConfigError, match="unknown schedule"):
        build_schedule(OptimConfig(schedule="linear"), total_steps=1)
    with pytest.raises(ConfigError, match="piecewise"):
        build_schedule(OptimConfig(schedule="piecewise", boundaries=(5,), values=(1.0,)), total_steps=1)
    with pytest.raises(ConfigError, match="noam"):
        build_schedule(OptimConfig(schedule="noam"), total_steps=1)
    with pytest.raises(ConfigError, match="plateau"):
        build_schedule(OptimConfig(schedule="plateau", warmup_steps=2), total_steps=1)


def test_clip_gradients():
    grads = [tf.constant([3.0, 0.0]), None, tf.constant([0.0, 4.0])]
    clipped = clip_gradients(grads, 1.0)
    assert clipped[1] is None
    np.testing.assert_allclose(clipped[0].numpy(), [0.6, 0.0], rtol=1e-6)
    np.testing.assert_allclose(clipped[2].numpy(), [0.0, 0.8], rtol=1e-6)
    assert clip_gradients(grads, 0.0)[0] is grads[0]
    assert clip_gradients(grads, 10.0)[2].numpy().tolist() == [0.0, 4.0]


def test_plateau_lowers_after_exceeding_last_three():
    opt = build_optimizer(OptimConfig(optimizer="sgd", lr=1.0, schedule="plateau"), total_steps=1)
    plateau = PlateauDecay(optimizer=opt, factor=0.5, window=3)
    # Fewer than 3 previous evaluations: never lowers, even when rising.
    assert [plateau.update(v) for v in (1.0, 2.0, 3.0)] == [False] * 3
    assert plateau.update(2.5) is False  # not above max(1, 2, 3)
    assert plateau.update(3.5) is True  # above max(2, 3, 2.5)
    assert _current_lr(opt) == pytest.approx(0.5)
    assert plateau.update(3.4) is False  # not above max(3, 2.5, 3.5)


def test_plateau_state_resumes_through_checkpoint(tmp_path):
    opt = build_optimizer(OptimConfig(optimizer="sgd", lr=1.0, schedule="plateau"), total_steps=1)
    plateau = PlateauDecay(optimizer=opt, factor=0.5)
    for v in (3.0, 2.0, 1.0):
        plateau.update(v)
    assert len(plateau.variables) == 2
    path = tf.train.Checkpoint(plateau=plateau).write(str(tmp_path / "ckpt"))
    fresh = PlateauDecay(optimizer=opt, factor=0.5)
    tf.train.Checkpoint(plateau=fresh).read(path).assert_consumed()
    assert fresh.state() == plateau.state()
    assert fresh.update(3.5) is True
    again = PlateauDecay(optimizer=opt, factor=0.5)
    again.load_state(plateau.state())
    assert again.update(3.5) is True


def test_plateau_rejects_a_schedule_and_builds_from_config():
    opt = build_optimizer(OptimConfig(schedule="exponential"), total_steps=10)
    with pytest.raises(ConfigError):
        PlateauDecay(optimizer=opt)
    assert build_plateau(OptimConfig(), optimizer=opt) is None
    cfg = OptimConfig(schedule="plateau", plateau_factor=0.1, plateau_patience=2)
    plateau = build_plateau(cfg, optimizer=build_optimizer(cfg, total_steps=1))
    assert (plateau.factor, plateau.window) == (0.1, 2)


def test_weight_ema_oracle():
    # S1 L943-L990: decay 0.99 with num_updates.
    v1 = tf.Variable(0.0)
    step = tf.Variable(0)
    ema = WeightEMA([v1], decay=0.99)
    got = [[v1.numpy(), ema.average(v1).numpy()]]
    v1.assign(5.0)
    ema.update(step)
    got.append([v1.numpy(), ema.average(v1).numpy()])
    step.assign(10000)
    v1.assign(10.0)
    ema.update(step)
    got.append([v1.numpy(), ema.average(v1).numpy()])
    tf.function(ema.update)(step)
    got.append([v1.numpy(), ema.average(v1).numpy()])
    np.testing.assert_allclose(got, [[0, 0], [5, 4.5], [10, 4.555], [10, 4.60945]], rtol=1e-5)


def test_weight_ema_swap_on_a_model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, kernel_initializer="ones")])
    ema = WeightEMA(model.trainable_variables, decay=0.5)
    model.layers[0].kernel.assign([[3.0], [3.0]])
    ema.update()  # shadow = 0.5 * 1 + 0.5 * 3 = 2
    x = np.ones((1, 2), np.float32)
    with ema.swapped():
        assert float(model(x)[0, 0]) == pytest.approx(4.0)
    assert float(model(x)[0, 0]) == pytest.approx(6.0)


def test_regularizer_oracle():
    # S1 L744-L756 on [[1, -2], [-3, 4]].
    w = tf.constant([[1.0, -2.0], [-3.0, 4.0]])
    assert float(l1(0.5)(w)) == pytest.approx(5.0)
    assert float(l2(0.5, convention="tf1")(w)) == pytest.approx(7.5)
    assert float(l2(0.5)(w)) == pytest.approx(15.0)
    assert float(keras.regularizers.L2(0.5)(w)) == pytest.approx(15.0)
    # 实例33: 0.01 * tf.nn.l2_loss(W) is L2(0.005).
    assert float(l2(0.01, convention="tf1")(w)) == pytest.approx(float(0.01 * tf.nn.l2_loss(w)))
    with pytest.raises(ConfigError, match="keras, tf1"):
        l2(0.5, convention="torch")
