"""Small helpers every Lambda shares (settings from the environment, backoff, endpoint calls,
boto3 clients, the customer's quiet window, a handler's wiring).

Shipped in the shared layer, beside the contracts layer (both on every function): it imports
boto3/botocore and ``churn_contracts``, never a function's package. No Powertools imports here,
except Powertools' event handler (with pydantic) in ``rest``, which the two REST APIs import.
"""
