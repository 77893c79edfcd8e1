"""The single-step graph: one token and the (h, c) state of every layer in, logits and the new
state out. Built from a trained model's weights with LSTMCell, so TFLite sees a flat graph of
builtin ops (no WHILE loop, no Flex ops) and nothing ever re-feeds a window."""

from __future__ import annotations


def state_names(layers: int) -> list[tuple[str, str]]:
    """(h, c) input names per layer; the outputs add `_out`."""
    return [(f"h{i}", f"c{i}") for i in range(layers)]


def build_step_model(trained, layers: int, units: int):
    """A Keras model of one step with `trained`'s weights; batch size is left open."""
    import keras

    token = keras.Input(shape=(), dtype="int32", name="token")
    states = [(keras.Input(shape=(units,), name=h), keras.Input(shape=(units,), name=c))
              for h, c in state_names(layers)]
    emb_src = trained.get_layer("embedding")
    emb = keras.layers.Embedding(emb_src.input_dim, emb_src.output_dim, name="embedding")
    x = emb(token)
    outputs = {}
    cells = []
    for i, (h, c) in enumerate(states):
        cell = keras.layers.LSTMCell(units, name=f"lstm{i}")
        x, (h2, c2) = cell(x, [h, c])
        cells.append(cell)
        outputs[f"h{i}_out"] = keras.layers.Identity(name=f"h{i}_out")(h2)
        outputs[f"c{i}_out"] = keras.layers.Identity(name=f"c{i}_out")(c2)
    dense_src = trained.get_layer("logits")
    dense = keras.layers.Dense(dense_src.units, name="logits")
    outputs["logits"] = dense(x)
    inputs = {"token": token}
    for (h, c), (hn, cn) in zip(states, state_names(layers), strict=True):
        inputs[hn], inputs[cn] = h, c
    model = keras.Model(inputs, outputs, name="tunegen_step")
    emb.set_weights(emb_src.get_weights())
    for i, cell in enumerate(cells):
        cell.set_weights(trained.get_layer(f"lstm{i}").cell.get_weights())
    dense.set_weights(dense_src.get_weights())
    return model
