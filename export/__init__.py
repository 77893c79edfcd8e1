"""Keras run folder -> single-step TFLite graphs with manifests (needs the `train` extra)."""
