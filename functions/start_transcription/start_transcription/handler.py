"""Placeholder until the pipeline issue lands."""


def lambda_handler(event, context):
    raise NotImplementedError
