"""Entry point of the SageMaker PyTorch inference container: shipped as ``code/inference.py``.

The toolkit imports this module (``SAGEMAKER_PROGRAM``, default ``inference.py``) with ``code/`` on
``PYTHONPATH`` and calls the four handlers below.
"""

from churn_model.serving.handlers import input_fn, model_fn, output_fn, predict_fn

__all__ = ["input_fn", "model_fn", "output_fn", "predict_fn"]
