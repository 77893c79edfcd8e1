"""Corpus ingestion, tokenizers, Keras models and the training loop (needs the `train` extra)."""
