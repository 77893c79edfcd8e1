"""The light part of tunegen a device installs: models, sampling, rendering, playback, CLI.

Nothing here imports TensorFlow or Keras.
"""
