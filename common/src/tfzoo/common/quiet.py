"""Keep TensorFlow's native start-up chatter (absl, oneDNN, cudart, cuInit lines) away from users.

Those lines are written by C++ straight to file descriptor 2 while TensorFlow is imported and its
devices are listed, before any Python logging setting applies (TF_CPP_MIN_LOG_LEVEL does not reach
absl's pre-initialisation messages), so the only way to hide them is to point fd 2 elsewhere for
that moment. What was written is replayed if the import fails, so real errors are never lost.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["native_stderr_silenced", "import_tensorflow_quietly"]


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Route file descriptor 2 to a temporary file inside the block; replay it if the block raises."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode("utf-8", errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow and list its devices with native output silenced, then keep TensorFlow's
    Python logger to errors (its retracing notices are for library authors, not users).

    Also sets TF_CPP_MIN_LOG_LEVEL=3 (overriding a 2 in the environment: level 2 still lets through
    the native ERROR lines TensorFlow writes during normal runs, e.g. "NodeDef mentions attribute
    use_unbounded_threadpool" or the cuInit failure on a machine without a GPU)."""
    if "tensorflow" in sys.modules:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    with native_stderr_silenced():
        import tensorflow as tf

        tf.config.list_physical_devices()  # cuInit and the CUDA stubs speak here
    tf.get_logger().setLevel("ERROR")
