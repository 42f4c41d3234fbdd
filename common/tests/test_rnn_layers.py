"""JANETCell and TaskSpecificAttention against NumPy references; masking; save/load."""

import keras
import numpy as np

from tfzoo.common.layers import JANETCell, TaskSpecificAttention


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _np_janet(x, kernel, recurrent, bias, *, beta=1.0, h=None):
    """The paper's equations, one step at a time; x is [B, T, D]."""
    units = recurrent.shape[0]
    h = np.zeros((x.shape[0], units), np.float64) if h is None else h
    outputs = []
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent + bias
        s, candidate = z[:, :units], np.tanh(z[:, units:])
        h = _sigmoid(s) * h + (1.0 - _sigmoid(s - beta)) * candidate
        outputs.append(h)
    return np.stack(outputs, 1)


def test_janet_step_matches_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 5)).astype(np.float32)
    layer = keras.layers.RNN(JANETCell(6, beta=0.7, t_max=20), return_sequences=True)
    got = np.asarray(layer(x))
    kernel, recurrent, bias = (np.asarray(w, np.float64) for w in layer.get_weights())
    assert kernel.shape == (5, 12) and recurrent.shape == (6, 12) and bias.shape == (12,)
    np.testing.assert_allclose(got, _np_janet(x, kernel, recurrent, bias, beta=0.7), atol=1e-5)
    # A single cell call is one step of the same equations.
    h0 = rng.normal(size=(3, 6)).astype(np.float32)
    out, (state,) = layer.cell(x[:, 0], [h0])
    want = _np_janet(x[:, :1], kernel, recurrent, bias, beta=0.7, h=h0)[:, 0]
    np.testing.assert_allclose(np.asarray(out), want, atol=1e-5)
    np.testing.assert_allclose(np.asarray(state), want, atol=1e-5)


def test_janet_chrono_bias_range():
    keras.utils.set_random_seed(3)
    cell = JANETCell(500, t_max=50)
    cell.build((None, 2))
    bias = np.asarray(cell.bias)
    forget, candidate = bias[:500], bias[500:]
    assert np.all(forget >= np.log(1.0)) and np.all(forget <= np.log(49.0) + 1e-6)
    # Spread over the whole range, not a constant.
    assert forget.min() < 0.5 and forget.max() > np.log(40.0)
    np.testing.assert_array_equal(candidate, 0.0)
    flat = JANETCell(4, t_max=None)
    flat.build((None, 2))
    np.testing.assert_array_equal(np.asarray(flat.bias), 0.0)


def test_janet_masked_steps_keep_the_state():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 6, 3)).astype(np.float32)
    padded = x.copy()
    padded[0, :2] = -10.0  # left padding of row 0
    padded[1, 4:] = -10.0  # right padding of row 1
    inputs = keras.Input((6, 3))
    masked = keras.layers.Masking(mask_value=-10.0)(inputs)
    outputs = keras.layers.RNN(JANETCell(4), return_sequences=True)(masked)
    model = keras.Model(inputs, outputs)
    got = np.asarray(model(padded))
    rnn = model.layers[-1]
    # Row 0: the first two steps stay at the zero initial state, then it runs on x[0, 2:] alone.
    np.testing.assert_allclose(got[0, :2], 0.0, atol=1e-7)
    np.testing.assert_allclose(got[0, 2:], np.asarray(rnn(x[:1, 2:]))[0], atol=1e-5)
    # Row 1: the masked tail repeats the last valid output.
    np.testing.assert_allclose(got[1, 4:], np.repeat(got[1, 3:4], 2, axis=0), atol=1e-7)


def test_janet_and_attention_save_load_round_trip(tmp_path):
    inputs = keras.Input((None, 3))
    masked = keras.layers.Masking(mask_value=-10.0)(inputs)
    seq = keras.layers.RNN(JANETCell(5, beta=0.5, t_max=30), return_sequences=True)(masked)
    pooled = TaskSpecificAttention(4)(seq)
    model = keras.Model(inputs, keras.layers.Dense(1)(pooled))
    x = np.random.default_rng(2).normal(size=(2, 7, 3)).astype(np.float32)
    x[1, :3] = -10.0
    path = tmp_path / "m.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(reloaded(x)), np.asarray(model(x)), atol=1e-6)
    cell = reloaded.layers[2].cell
    assert isinstance(cell, JANETCell) and (cell.units, cell.beta, cell.t_max) == (5, 0.5, 30)


def test_attention_equals_manual_computation():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 5, 3)).astype(np.float32)
    layer = TaskSpecificAttention(4, return_attention=True)
    pooled, weights = (np.asarray(t) for t in layer(x))
    kernel, bias = (np.asarray(w) for w in layer.mlp.get_weights())
    u = np.tanh(x @ kernel + bias)
    scores = u @ np.asarray(layer.context)
    alpha = np.exp(scores - scores.max(-1, keepdims=True))
    alpha /= alpha.sum(-1, keepdims=True)
    np.testing.assert_allclose(weights, alpha, atol=1e-6)
    np.testing.assert_allclose(pooled, np.einsum("bt,btu->bu", alpha, u), atol=1e-6)
    assert pooled.shape == (2, 4)


def test_attention_masked_steps_get_zero_weight():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 6, 2)).astype(np.float32)
    mask = np.array([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0]], bool)
    layer = TaskSpecificAttention(3, return_attention=True)
    pooled, weights = (np.asarray(t) for t in layer(x, mask=mask))
    assert np.all(weights[~mask] == 0.0)
    np.testing.assert_allclose(weights[:2].sum(-1), 1.0, atol=1e-6)
    # Row 0 equals attention over its valid steps alone; an all-masked row pools to zeros.
    alone, alone_weights = (np.asarray(t) for t in layer(x[:1, 2:]))
    np.testing.assert_allclose(pooled[0], alone[0], atol=1e-6)
    np.testing.assert_allclose(weights[0, 2:], alone_weights[0], atol=1e-6)
    np.testing.assert_array_equal(pooled[2], 0.0)
    assert np.all(np.isfinite(pooled))
    # Through a Masking layer the mask arrives by itself.
    inputs = keras.Input((6, 2))
    out = TaskSpecificAttention(3)(keras.layers.Masking(mask_value=0.0)(inputs))
    x_pad = x.copy()
    x_pad[0, :2] = 0.0
    model = keras.Model(inputs, out)
    attention = model.layers[-1]
    direct = np.asarray(attention(x_pad[:1, 2:]))
    np.testing.assert_allclose(np.asarray(model(x_pad[:1])), direct, atol=1e-6)
