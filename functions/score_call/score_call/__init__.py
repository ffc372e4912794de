"""score_call Lambda."""
