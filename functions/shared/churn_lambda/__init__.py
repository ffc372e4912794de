"""Small helpers every Lambda shares (settings from the environment, backoff, endpoint calls).

Shipped in the shared layer; no Powertools imports here, and botocore only in ``endpoint``.
"""
