"""Small stdlib helpers both Lambdas share (settings from the environment, backoff).

Shipped in the shared layer beside ``churn_contracts``; no AWS or Powertools imports here.
"""
