"""start_transcription Lambda."""
