"""The exceptions tunegen raises for problems a user can fix."""


class TunegenError(Exception):
    """A problem with the user's input or setup; its message says what is wrong and what to do."""


class ModelError(TunegenError):
    """A model cannot be found, is broken, or does not fit the request."""


class CorpusError(TunegenError):
    """A corpus cannot be read or holds no usable tunes."""


class PrimerError(TunegenError):
    """A primer the model cannot continue."""


class AudioError(TunegenError):
    """Rendering or playback cannot run (SoundFont, FluidSynth, audio device)."""
