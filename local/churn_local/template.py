"""Old import path of the template's parameter checks, which live in ``churn_ops.template_rules``.

The local stack does not resolve the template: it deploys it (``churn_local.spec``), and the
local API gateway serves the settings that deployment resolved (``churn_local.api_gateway``).
Kept only for imports that still name this module; new code imports ``churn_ops.template_rules``.
"""

from __future__ import annotations

from churn_ops.template_rules import ParameterError, TemplateError, check_parameters, load_template

__all__ = ["ParameterError", "TemplateError", "check_parameters", "load_template"]
