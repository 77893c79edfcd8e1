"""One training epoch under `MultiWorkerMirroredStrategy`, as tf.distribute's custom-loop guide
does it: Keras 3's `fit` cannot drive that strategy yet (keras-team/keras#20585), so each worker
feeds its replicas their slice of every global batch and `strategy.run` steps them together; the
optimizer sums the replicas' gradients."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def fit_epoch(model, data, strategy, on_batch: Callable[[float], None] | None = None) -> float:
    """Train `model` on every batch of `data` (a WindowBatches of global batches) and return the
    epoch's mean loss per target token (nats), as `fit` reports it."""
    import keras
    import tensorflow as tf

    n = data.windows.seq_len
    global_batch = data.batch
    replicas = strategy.num_replicas_in_sync
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)

    def dataset_fn(ctx: tf.distribute.InputContext):
        per = ctx.get_per_replica_batch_size(global_batch)
        local = replicas // ctx.num_input_pipelines  # replicas this worker feeds

        def batches():
            for i in range(len(data)):
                x, y, w = data[i]
                if len(x) < global_batch:  # a corpus smaller than one batch: repeat rows to fill it
                    reps = -(-global_batch // len(x))
                    x, y, w = (np.concatenate([a] * reps)[:global_batch] for a in (x, y, w))
                for r in range(local):
                    lo = (ctx.input_pipeline_id * local + r) * per
                    yield x[lo:lo + per], y[lo:lo + per], w[lo:lo + per]

        spec = (tf.TensorSpec([per, n], tf.int32), tf.TensorSpec([per, n], tf.int32),
                tf.TensorSpec([per, n], tf.float32))
        return tf.data.Dataset.from_generator(batches, output_signature=spec).prefetch(2)

    dist = strategy.distribute_datasets_from_function(dataset_fn)
    optimizer = model.optimizer

    @tf.function
    def train_step(x, y, w):
        def replica_step(x, y, w):
            with tf.GradientTape() as tape:
                logits = model(x, training=True)
                loss = tf.reduce_sum(loss_fn(y, logits) * w) / float(global_batch * n)
                scaled = optimizer.scale_loss(loss) if hasattr(optimizer, "scale_loss") else loss
            grads = tape.gradient(scaled, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            return loss

        return strategy.reduce("SUM", strategy.run(replica_step, args=(x, y, w)), axis=None)

    losses = []
    for x, y, w in dist:
        loss = float(train_step(x, y, w))
        losses.append(loss)
        if on_batch:
            on_batch(loss)
    return float(np.mean(losses)) if losses else float("nan")
