"""Serving: the SageMaker inference handlers, the model.tar.gz packager and a local endpoint server.

Kept import-light: ``code/`` in model.tar.gz carries this package without the server.
"""
