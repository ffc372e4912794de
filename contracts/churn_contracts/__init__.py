"""Contracts shared by the Lambdas, the model and the local stack.

Standard library only: this package ships as a Lambda layer and inside the
model artifact, so it must import anywhere Python runs.
"""

__version__ = "1.0.0"
