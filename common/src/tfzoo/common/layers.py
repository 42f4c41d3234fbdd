"""Shared Keras 3 layers: maxout, argmax max-pooling and unpooling, the JANET cell, attention pooling.

Every layer takes keyword-only arguments, implements ``get_config()`` and is
registered under the ``tfzoo`` package so a ``.keras`` file reloads it.
"""

from __future__ import annotations

import keras
import tensorflow as tf

__all__ = ["JANETCell", "Maxout", "MaxPoolWithArgmax", "MaxUnpool2D", "TaskSpecificAttention"]


def _pair(value, name: str) -> tuple[int, int]:
    """Accept an int or a pair of ints; return a pair of positive ints."""
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v > 0 for v in pair):
        raise ValueError(f"{name} must be a positive int or a pair of them, got {value!r}")
    return pair


@keras.saving.register_keras_serializable(package="tfzoo")
class Maxout(keras.layers.Layer):
    """Maxout (Goodfellow et al., 2013): the max over ``k`` pieces per unit.

    The ``axis`` of width ``num_units * k`` is split into ``num_units`` groups of
    ``k`` consecutive features and each group is reduced by its max, as
    ``tf.contrib.layers.maxout`` did. The book's 实例27 took the max over *all*
    units instead, which leaves a one-unit bottleneck; this layer does not.

    Args:
        num_units: number of output units; must divide the width of ``axis``.
        axis: the feature axis to reduce (default: last).
    """

    def __init__(self, *, num_units: int, axis: int = -1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(num_units, int) or num_units <= 0:
            raise ValueError(f"num_units must be a positive int, got {num_units!r}")
        self.num_units = num_units
        self.axis = axis

    def _check(self, input_shape) -> int:
        rank = len(input_shape)
        axis = self.axis % rank
        width = input_shape[axis]
        if width is not None and width % self.num_units:
            raise ValueError(
                f"Maxout: width {width} of axis {self.axis} is not divisible by "
                f"num_units={self.num_units}"
            )
        return axis

    def build(self, input_shape):
        self._check(input_shape)

    def compute_output_shape(self, input_shape):
        axis = self._check(input_shape)
        shape = list(input_shape)
        shape[axis] = self.num_units
        return tuple(shape)

    def call(self, inputs):
        axis = self._check(inputs.shape)
        shape = tf.shape(inputs)
        pieces = shape[axis] // self.num_units
        # Split the axis into (num_units, pieces) and reduce the pieces; tf.shape
        # keeps every other dimension dynamic (batch, time).
        split = tf.concat([shape[:axis], [self.num_units, pieces], shape[axis + 1 :]], 0)
        out = tf.reduce_max(tf.reshape(inputs, split), axis=axis + 1)
        out.set_shape(self.compute_output_shape(tuple(inputs.shape)))
        return out

    def get_config(self):
        return {**super().get_config(), "num_units": self.num_units, "axis": self.axis}


@keras.saving.register_keras_serializable(package="tfzoo")
class MaxPoolWithArgmax(keras.layers.Layer):
    """2-D max pooling that also returns where each max came from.

    ``call(x)`` returns ``(pooled, argmax)``. ``argmax`` (int64, same shape as
    ``pooled``) holds flat indices into ``x`` *including* the batch, i.e.
    ``((b * H + y) * W + x) * C + c``, which is what :class:`MaxUnpool2D`
    consumes. It is under ``stop_gradient``; gradients flow through ``pooled``.
    The op runs on CPU in TF 2.21 (the book's "GPU only" note is obsolete).

    Args:
        pool_size: window size, an int or (height, width).
        strides: window stride, an int or (height, width).
        padding: ``"SAME"`` or ``"VALID"``.
    """

    def __init__(self, *, pool_size=2, strides=2, padding: str = "SAME", **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = _pair(strides, "strides")
        self.padding = str(padding).upper()
        if self.padding not in ("SAME", "VALID"):
            raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}")

    def call(self, inputs):
        window = dict(ksize=[1, *self.pool_size, 1], strides=[1, *self.strides, 1], padding=self.padding)
        # The values come from the plain max-pool op and the indices from a separate one:
        # when only the values are used (training, TFLite, XLA), graph pruning drops the
        # argmax op, which TFLite and XLA do not support.
        pooled = tf.nn.max_pool2d(inputs, **window)
        _, argmax = tf.nn.max_pool_with_argmax(
            inputs, **window, output_dtype=tf.int64, include_batch_in_index=True
        )
        # Indices are not differentiable; stop_gradient makes that explicit.
        return pooled, tf.stop_gradient(argmax)

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "strides": self.strides,
            "padding": self.padding,
        }


@keras.saving.register_keras_serializable(package="tfzoo")
class MaxUnpool2D(keras.layers.Layer):
    """Inverse of :class:`MaxPoolWithArgmax`: put each value back at its argmax.

    ``call(inputs, argmax, output_shape=None)`` scatters ``inputs`` to the
    positions in ``argmax`` (batch-included flat indices) and fills the rest
    with zeros. The batch may be dynamic (the book's version needed a static
    one). The output spatial size is, in order of preference:

    * ``output_shape`` given to ``call``: a 4-D tensor to match (typically the
      tensor that was pooled) or a length-4 shape vector;
    * ``output_size=(H, W)`` given to the constructor, for odd sizes;
    * ``size`` times the input's height and width.

    Windows are assumed not to overlap (``strides >= pool_size``); with overlap
    a position chosen twice receives the sum of its copies.

    Args:
        size: the pooling stride to undo, an int or (height, width).
        output_size: optional fixed (height, width) of the output.
    """

    def __init__(self, *, size=2, output_size=None, **kwargs):
        super().__init__(**kwargs)
        self.size = _pair(size, "size")
        self.output_size = None if output_size is None else _pair(output_size, "output_size")

    def _target_shape(self, inputs, output_shape):
        in_shape = tf.shape(inputs, out_type=tf.int64)
        if output_shape is not None:
            output_shape = tf.convert_to_tensor(output_shape)
            if output_shape.shape.rank == 1 and output_shape.dtype.is_integer:
                return tf.cast(output_shape, tf.int64)
            return tf.shape(output_shape, out_type=tf.int64)
        if self.output_size is not None:
            h, w = self.output_size
        else:
            h, w = in_shape[1] * self.size[0], in_shape[2] * self.size[1]
        return tf.stack([in_shape[0], tf.cast(h, tf.int64), tf.cast(w, tf.int64), in_shape[3]])

    def _static_shape(self, inputs, output_shape):
        b, h, w, c = inputs.shape
        if output_shape is not None:
            if output_shape.shape.rank == 4:
                return output_shape.shape
            return tf.TensorShape([None] * 4)
        if self.output_size is not None:
            return tf.TensorShape([b, *self.output_size, c])
        h = None if h is None else h * self.size[0]
        w = None if w is None else w * self.size[1]
        return tf.TensorShape([b, h, w, c])

    def call(self, inputs, argmax, output_shape=None):
        if output_shape is not None:
            output_shape = tf.convert_to_tensor(output_shape)
        shape = self._target_shape(inputs, output_shape)
        # The argmax already includes the batch, so one scatter into the
        # flattened output does the whole batch, whatever its size.
        flat = tf.scatter_nd(
            tf.reshape(tf.cast(argmax, tf.int64), [-1, 1]),
            tf.reshape(inputs, [-1]),
            tf.reduce_prod(shape, keepdims=True),
        )
        out = tf.reshape(flat, shape)
        out.set_shape(self._static_shape(inputs, output_shape))
        return out

    def get_config(self):
        return {**super().get_config(), "size": self.size, "output_size": self.output_size}


@keras.saving.register_keras_serializable(package="tfzoo")
class JANETCell(keras.layers.Layer):
    """JANET, "Just Another NETwork" (van der Westhuizen & Lasenby, 2018): an LSTM with only a forget gate.

    Per step, with input ``x`` and previous output ``h``::

        s  = W_f x + U_f h + b_f
        c~ = tanh(W_c x + U_c h + b_c)
        c  = sigmoid(s) * c + (1 - sigmoid(s - beta)) * c~
        h  = c

    The shift ``beta`` makes the cell accumulate slightly more than it forgets, and the
    chrono initialisation ``b_f ~ log U(1, t_max - 1)`` spreads the forget gates' time
    constants over 1..t_max steps, so long dependencies survive from the first update.
    ``t_max=None`` starts ``b_f`` at zero. Use it in ``keras.layers.RNN``; masked steps keep
    the state (the RNN layer handles masks). The book (实例50) used an unpublished
    ``JANetLSTMCell.py``; this is re-implemented from the paper.

    Args:
        units: size of the state and output.
        beta: the forget-gate shift (1.0 in the paper).
        t_max: the longest dependency expected, for the chrono initialisation.
        kernel_initializer, recurrent_initializer: for W and U (glorot-uniform, orthogonal).
        kernel_regularizer, recurrent_regularizer: optional regularisers of W and U.
    """

    def __init__(self, units: int, *, beta: float = 1.0, t_max: int | None = 50,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 kernel_regularizer=None, recurrent_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, int) or units <= 0:
            raise ValueError(f"units must be a positive int, got {units!r}")
        if t_max is not None and t_max <= 2:
            raise ValueError(f"t_max must be greater than 2 (b_f ~ log U(1, t_max - 1)), got {t_max!r}")
        self.units = units
        self.beta = float(beta)
        self.t_max = t_max
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(recurrent_regularizer)
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        # Columns [0, units) feed the forget gate, [units, 2 units) the candidate.
        self.kernel = self.add_weight(
            shape=(input_shape[-1], 2 * self.units), name="kernel",
            initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, 2 * self.units), name="recurrent_kernel",
            initializer=self.recurrent_initializer, regularizer=self.recurrent_regularizer,
        )
        self.bias = self.add_weight(shape=(2 * self.units,), name="bias", initializer=self._bias_init)

    def _bias_init(self, shape, dtype=None):
        forget = keras.ops.zeros((self.units,), dtype=dtype)
        if self.t_max is not None:
            draw = keras.initializers.RandomUniform(1.0, float(self.t_max - 1))((self.units,), dtype=dtype)
            forget = keras.ops.log(draw)
        return keras.ops.concatenate([forget, keras.ops.zeros((self.units,), dtype=dtype)])

    def call(self, inputs, states, training=False):
        h = states[0] if isinstance(states, (list, tuple)) else states
        z = keras.ops.matmul(inputs, self.kernel) + keras.ops.matmul(h, self.recurrent_kernel) + self.bias
        s, candidate = z[:, : self.units], keras.ops.tanh(z[:, self.units :])
        c = keras.ops.sigmoid(s) * h + (1.0 - keras.ops.sigmoid(s - self.beta)) * candidate
        return c, [c]

    def get_initial_state(self, batch_size=None):
        return [keras.ops.zeros((batch_size, self.units), dtype=self.compute_dtype)]

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "beta": self.beta,
            "t_max": self.t_max,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": keras.regularizers.serialize(self.recurrent_regularizer),
        }


@keras.saving.register_keras_serializable(package="tfzoo")
class TaskSpecificAttention(keras.layers.Layer):
    """Attention pooling over time (Yang et al., 2016; the book's ``task_specific_attention``).

    For inputs ``x [B, T, D]``: ``u_t = tanh(W x_t + b)`` (``units`` wide), scores
    ``a_t = u_t . v`` with a learned context vector ``v``, weights ``alpha = softmax(a)`` over
    the valid steps only, and the pooled vector ``sum_t alpha_t u_t [B, units]``. As in the
    book, the projections ``u_t`` are pooled, not the inputs. Masked steps (a Keras mask from
    ``Masking``/``Embedding(mask_zero=True)``, or ``mask=`` given to ``call``) get exactly zero
    weight; a row with no valid step pools to zeros instead of NaN.

    Args:
        units: width of the tanh projection and of the pooled output.
        return_attention: also return the weights ``[B, T]``, as ``(pooled, weights)``.
    """

    def __init__(self, units: int, *, return_attention: bool = False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, int) or units <= 0:
            raise ValueError(f"units must be a positive int, got {units!r}")
        self.units = units
        self.return_attention = bool(return_attention)
        self.supports_masking = True

    def build(self, input_shape):
        self.mlp = keras.layers.Dense(self.units, activation="tanh", name="mlp")
        self.mlp.build(input_shape)
        self.context = self.add_weight(shape=(self.units,), name="context_vector", initializer="glorot_uniform")

    def call(self, inputs, mask=None):
        projected = self.mlp(inputs)  # [B, T, units]
        scores = keras.ops.einsum("btu,u->bt", projected, self.context)
        if mask is None:
            weights = keras.ops.softmax(scores, axis=-1)
        else:
            valid = keras.ops.cast(mask, scores.dtype)
            # Subtract the row max over valid steps for stability; masked steps then contribute exp(.)*0.
            shifted = scores - keras.ops.max(keras.ops.where(valid > 0, scores, -1e30), axis=-1, keepdims=True)
            exp = keras.ops.exp(keras.ops.minimum(shifted, 0.0)) * valid
            weights = exp / keras.ops.maximum(keras.ops.sum(exp, axis=-1, keepdims=True), 1e-30)
        pooled = keras.ops.einsum("bt,btu->bu", weights, projected)
        return (pooled, weights) if self.return_attention else pooled

    def compute_mask(self, inputs, mask=None):
        return None  # time is pooled away

    def compute_output_shape(self, input_shape):
        pooled = (input_shape[0], self.units)
        return (pooled, tuple(input_shape[:2])) if self.return_attention else pooled

    def get_config(self):
        return {**super().get_config(), "units": self.units, "return_attention": self.return_attention}
