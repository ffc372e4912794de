"""A local stand-in for Amazon Transcribe: same API, offline recognition, local AWS I/O."""

from .asr import PocketSphinxRecognizer, SpeechRecognizer, Word
from .service import LocalTranscribe

__all__ = ["LocalTranscribe", "PocketSphinxRecognizer", "SpeechRecognizer", "Word"]
