"""Strategy factory: one device, mirrored, multi-worker or parameter-server from TF_CONFIG."""

from __future__ import annotations

import functools
import json
import os

import tensorflow as tf

from tfzoo.common.errors import ConfigError

STRATEGIES = ("default", "mirrored", "multi-worker", "parameter-server")


def configure_virtual_cpus(count: int) -> None:
    """Split the CPU into `count` logical devices; must run before TensorFlow initialises."""
    if count <= 1:
        return
    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
    )


def tf_config() -> dict:
    """The parsed TF_CONFIG environment variable, or {}."""
    raw = os.environ.get("TF_CONFIG", "")
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError as err:
        raise ConfigError(f"TF_CONFIG is not valid JSON ({err})") from None


def make_strategy(name: str = "default") -> tf.distribute.Strategy:
    """Build the named strategy; multi-worker and parameter-server read TF_CONFIG."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return _mirrored()
    if name in ("multi-worker", "parameter-server") and not tf_config().get("cluster"):
        raise ConfigError(f"--strategy {name} needs TF_CONFIG with a cluster (or use --local-cluster)")
    if name == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "parameter-server":
        resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
        return tf.distribute.experimental.ParameterServerStrategy(resolver)
    raise ConfigError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")


@functools.cache
def _mirrored() -> tf.distribute.MirroredStrategy:
    # One per process: a second MirroredStrategy numbers its collective ops from the same keys as
    # the first, and the runtime then aborts on a shape mismatch between unrelated all-reduces.
    devices = [d.name for d in tf.config.list_logical_devices("GPU")] or [
        d.name for d in tf.config.list_logical_devices("CPU")
    ]
    return tf.distribute.MirroredStrategy(devices=devices)


def task_role() -> tuple[str, int]:
    """(task type, index) of this process in TF_CONFIG; ("chief", 0) when alone."""
    task = tf_config().get("task", {})
    return task.get("type", "chief"), int(task.get("index", 0))


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the real checkpoints, summaries and metrics."""
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        kind, index = task_role()
        has_chief = "chief" in tf_config().get("cluster", {})
        return kind == "chief" or (kind == "worker" and index == 0 and not has_chief)
    return task_role()[0] == "chief"


def serve_forever() -> None:
    """Run this process as a parameter-server cluster `ps` or `worker` member until killed."""
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    server = tf.distribute.Server(
        resolver.cluster_spec(),
        job_name=resolver.task_type,
        task_index=resolver.task_id,
        protocol=resolver.rpc_layer or "grpc",
        start=True,
    )
    print(f"{resolver.task_type} {resolver.task_id} serving at {server.target}", flush=True)
    server.join()


if __name__ == "__main__":
    # `python -m tfzoo.common.distribute`: a parameter-server cluster member started by the launcher.
    serve_forever()
