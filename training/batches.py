"""Training batches read from the token cache as `fit` asks for them (a Keras PyDataset, so any
backend and any tf.distribute strategy can consume them)."""

from __future__ import annotations

import keras
import numpy as np


class WindowIndex:
    """Tune-aligned windows of the training pieces: (piece, start) for every `seq_len` tokens."""

    def __init__(self, cache, pieces: np.ndarray, seq_len: int) -> None:
        self.cache, self.seq_len = cache, seq_len
        lengths = cache.offsets[pieces + 1] - cache.offsets[pieces] + 2  # with start and end
        counts = (lengths - 2) // seq_len + 1  # windows starting at 0, seq_len, ... < length - 1
        self.piece = np.repeat(pieces, counts)
        self.start = np.concatenate([np.arange(c) * seq_len for c in counts]) if len(counts) else np.zeros(0, int)

    def __len__(self) -> int:
        return len(self.piece)


class WindowBatches(keras.utils.PyDataset):
    """Batches of (inputs, targets, weights) read from the token cache as training asks for them,
    so no epoch is ever held in memory; pieces are transposed per epoch when asked."""

    def __init__(self, windows: WindowIndex, order: np.ndarray, batch: int, tables=None, shifts=None):
        super().__init__()
        self.windows, self.order, self.batch = windows, order, batch
        self.tables, self.shifts = tables, shifts
        n = windows.seq_len
        ends = np.minimum(windows.start[order] + n,
                          windows.cache.offsets[windows.piece[order] + 1]
                          - windows.cache.offsets[windows.piece[order]] + 1)
        self.tokens = int((ends - windows.start[order]).sum())

    def __len__(self) -> int:
        return max(len(self.order) // self.batch, 1)

    def __getitem__(self, i: int):
        w, n = self.windows, self.windows.seq_len
        picks = self.order[i * self.batch:(i + 1) * self.batch]
        x = np.zeros((len(picks), n), np.int32)
        y = np.zeros((len(picks), n), np.int32)
        for row, k in enumerate(picks):
            piece, start = int(w.piece[k]), int(w.start[k])
            ids = w.cache.ids(piece)
            if self.tables is not None:
                ids = self.tables[int(self.shifts[piece])][ids]
            a, b = ids[start:start + n], ids[start + 1:start + n + 1]
            x[row, :len(a)] = a
            y[row, :len(b)] = b
        return x, y, (y != 0).astype(np.float32)
