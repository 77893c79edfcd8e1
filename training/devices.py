"""Where training runs: the devices found, the distribution strategy, mixed precision, XLA, and
whether the LSTM layers qualify for cuDNN kernels on a GPU.

Strategies are TensorFlow's own (`tf.distribute`); under another Keras backend only `one` runs.
`$TUNEGEN_CPU_DEVICES=N` splits the CPU into N logical devices, to try `mirrored` without GPUs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

STRATEGIES = ("auto", "one", "mirrored", "multiworker")
PRECISIONS = ("float32", "mixed")
WORKER_WAIT = 60.0  # seconds to wait for the other workers of a multi-worker run ($TUNEGEN_WORKER_WAIT)


class TrainingSetupError(ValueError):
    """Training cannot start as asked (strategy, TF_CONFIG, precision); the message says why."""


@dataclass
class Placement:
    """The strategy a run trains under and what it means for the run."""

    strategy: object | None  # a tf.distribute strategy, or None under a non-TensorFlow backend
    name: str
    replicas: int
    chief: bool
    gpus: int
    line: str  # one line saying where training runs

    def scope(self):
        import contextlib

        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()


def backend() -> str:
    import keras

    return keras.config.backend()


def _gpus() -> list[str]:
    if backend() == "tensorflow":
        import tensorflow as tf

        return [g.name for g in tf.config.list_physical_devices("GPU")]
    if backend() == "jax":
        import jax

        return [str(d) for d in jax.devices() if d.platform == "gpu"]
    if backend() == "torch":
        import torch

        return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return []


def split_cpu() -> None:
    """Apply $TUNEGEN_CPU_DEVICES before TensorFlow starts its devices."""
    n = int(os.environ.get("TUNEGEN_CPU_DEVICES", "0") or 0)
    if n > 1 and backend() == "tensorflow":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        try:
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
        except RuntimeError:
            pass  # devices already started in this process: keep them


def tf_config() -> dict | None:
    """The parsed $TF_CONFIG, or None; a malformed one raises TrainingSetupError."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return None
    try:
        cfg = json.loads(raw)
        workers = cfg["cluster"]["worker"]
        task = cfg["task"]
        kind, index = task["type"], int(task["index"])
        if not isinstance(workers, list) or not workers or not all(":" in w for w in workers):
            raise ValueError("cluster.worker must list host:port addresses")
        if kind == "worker" and not 0 <= index < len(workers):
            raise ValueError(f"task.index {index} is not in cluster.worker")
    except (ValueError, KeyError, TypeError) as e:
        raise TrainingSetupError(f"TF_CONFIG is malformed ({e}); it needs "
                                 '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", '
                                 '"index": N}}') from None
    return cfg


def _stderr_fd() -> int | None:
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (e.g. under a test runner)
        return None


_WATCHDOG = """
import json, os, signal, socket, sys, time
pid, wait, cfg = int(sys.argv[1]), float(sys.argv[2]), json.loads(sys.argv[3])
time.sleep(wait)
me = cfg["task"]["index"] if cfg["task"]["type"] == "worker" else None
missing = []
for i, w in enumerate(cfg["cluster"]["worker"]):
    host, port = w.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=1.0).close()
    except OSError:
        if i != me:
            missing.append(w)
who = f"worker {', '.join(missing)}" if missing else "a worker"
sys.stderr.write(f"error: {who} named in TF_CONFIG did not answer within {wait:.0f} s; start every worker, "
                 "or fix the addresses\\n")
sys.stderr.flush()
os.kill(pid, signal.SIGKILL)
"""


def place(name: str = "auto", wait: float | None = None) -> Placement:
    """The strategy for `name` (one of STRATEGIES, as TrainConfig checks) on the devices this
    process sees."""
    wait = float(os.environ.get("TUNEGEN_WORKER_WAIT", WORKER_WAIT)) if wait is None else wait
    gpus = _gpus()
    where = (f"{len(gpus)} GPU(s): {', '.join(gpus)}" if gpus
             else "no GPU found: training on the CPU (slower; sizes and steps as configured)")
    cfg = tf_config()
    if name == "auto":
        name = "multiworker" if cfg else "mirrored" if len(gpus) > 1 else "one"
    if backend() != "tensorflow":
        if name != "one":
            raise TrainingSetupError(f"strategy {name} needs the TensorFlow backend (KERAS_BACKEND is "
                                     f"{backend()}); use --strategy one")
        return Placement(None, "one", 1, True, len(gpus), f"{where} ({backend()} backend)")
    import tensorflow as tf

    split_cpu()
    if name == "one":
        return Placement(tf.distribute.get_strategy(), "one", 1, True, len(gpus), where)
    if name == "mirrored":
        strategy = tf.distribute.MirroredStrategy()
        return Placement(strategy, name, strategy.num_replicas_in_sync, True, len(gpus),
                         f"{where}; mirrored over {strategy.num_replicas_in_sync} device(s)")
    if cfg is None:
        raise TrainingSetupError("strategy multiworker needs TF_CONFIG naming the workers and this "
                                 "process's task")
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=max(wait, 30.0))
    # The strategy waits inside TensorFlow, holding Python's lock, until every worker has joined. A
    # watchdog process ends this one with a clear line if that takes longer than `wait`.
    # its one line goes where tunegen's own messages go (sys.stderr), not through the filter of
    # native log lines on file descriptor 2, which dies with this process
    watchdog = subprocess.Popen([sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(wait), json.dumps(cfg)],
                                stderr=_stderr_fd())
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    finally:
        watchdog.kill()
        watchdog.wait()
    task = cfg["task"]
    chief = task["type"] == "chief" or (task["type"] == "worker" and task["index"] == 0
                                          and "chief" not in cfg["cluster"])
    return Placement(strategy, name, strategy.num_replicas_in_sync, chief, len(gpus),
                     f"{where}; worker {task['index']} of {len(cfg['cluster']['worker'])}, "
                     f"{strategy.num_replicas_in_sync} replicas in all")


def precision_policy(precision: str, gpus: int) -> tuple[str, str | None]:
    """The Keras dtype policy for `precision` (one of PRECISIONS, as TrainConfig checks), and a
    warning when it cannot be had here."""
    if precision == "float32":
        return "float32", None
    if not gpus:
        return "float32", "mixed precision needs float16 support, which this device (the CPU) lacks: training in float32"
    return "mixed_float16", None


def cudnn_problems(layer) -> list[str]:
    """Why a Keras LSTM layer would not run on cuDNN on a GPU (empty when it would). Keras uses the
    cuDNN kernel for tanh activation, sigmoid recurrent activation, no recurrent dropout, no
    unrolling, with bias, and inputs without a mask (or strictly right-padded)."""
    import keras

    problems = []
    if layer.activation is not keras.activations.tanh:
        problems.append("activation is not tanh")
    if layer.recurrent_activation is not keras.activations.sigmoid:
        problems.append("recurrent activation is not sigmoid")
    if layer.recurrent_dropout:
        problems.append("recurrent dropout")
    if layer.unroll:
        problems.append("unrolled")
    if not layer.use_bias:
        problems.append("no bias")
    return problems


def use_xla(gpus: int) -> bool:
    """XLA where it helps: on GPUs. On this project's CPUs it made training slower."""
    return gpus > 0
