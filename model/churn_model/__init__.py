"""Churn model: data, training, evaluation and serving."""
