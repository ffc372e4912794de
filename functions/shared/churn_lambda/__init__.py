"""Small helpers every Lambda shares (settings from the environment, backoff, endpoint calls).

Shipped in the shared layer; no Powertools imports here, botocore only in ``endpoint``, and
Powertools' event handler (with pydantic) only in ``rest``, which the two REST APIs import.
"""
