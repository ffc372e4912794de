"""Load template.yaml and check stack parameters as CloudFormation would, before anything is created.

Standard library and PyYAML only: the deploy check (``python -m churn_ops.stack check``) runs it in
``.venv-ops``, and the local stack (``churn_local``) calls it at ``stack up``; ops does not stand on
the local emulation, the local emulation imports this.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from churn_contracts.risk import HIGH_PARAMETER, MEDIUM_PARAMETER, ThresholdError, validate_thresholds


class TemplateError(ValueError):
    """The template cannot be read, or a rule cannot be evaluated."""


class ParameterError(TemplateError):
    """Parameter values that CloudFormation would refuse (constraints or Rules), all listed."""


# --- loading -------------------------------------------------------------------------------


# libyaml's parser when PyYAML has it: the pure-Python one takes seconds on template.yaml.
class _CfnLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML loader that turns CloudFormation short-form tags into their long form."""


def _construct_tag(loader: _CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else ("Condition" if suffix == "Condition" else f"Fn::{suffix}")
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: str | Path) -> dict[str, Any]:
    text = Path(path).read_text()
    document = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise TemplateError(f"{path}: not a CloudFormation/SAM template (no Resources)")
    return document


# --- parameter checks ----------------------------------------------------------------------
# What CloudFormation checks before it creates or changes anything, so a bad value fails at
# `stack up` (and in `python -m churn_ops.stack check`) the way `sam deploy` would fail.


def check_parameters(
    template: Mapping[str, Any], overrides: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """Every parameter's value (override or default), or a ParameterError listing each problem.

    Checks the parameters' own constraints, the template's ``Rules``, and the orderings rule
    functions cannot express (they compare strings only): the risk thresholds' order, with
    ``churn_contracts.risk``'s one validation.
    """
    declared = template.get("Parameters") or {}
    overrides = {k: str(v) for k, v in (overrides or {}).items()}
    problems = [
        f"{name}: not a parameter of this template" for name in sorted(set(overrides) - set(declared))
    ]
    values: dict[str, str] = {}
    for name, spec in declared.items():
        spec = spec if isinstance(spec, Mapping) else {}
        if name in overrides:
            values[name] = overrides[name]
        elif "Default" in spec:
            default = spec["Default"]
            values[name] = ",".join(map(str, default)) if isinstance(default, list) else str(default)
        else:
            problems.append(f"{name}: no default; pass a value")
            continue
        problems.extend(f"{name}: {problem}" for problem in _constraint_problems(values[name], spec))
    if not problems:
        for rule_name, rule in (template.get("Rules") or {}).items():
            problems.extend(f"{rule_name}: {problem}" for problem in _rule_problems(rule, values, declared))
        problems.extend(_ordering_problems(values))
    if problems:
        raise ParameterError("invalid stack parameters:\n  " + "\n  ".join(problems))
    return values


def _constraint_problems(value: str, spec: Mapping[str, Any]) -> list[str]:
    problems = []
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(v) for v in allowed]:
        problems.append(f"{value!r} is not one of {', '.join(map(str, allowed))}")
    pattern = spec.get("AllowedPattern")
    if pattern is not None and re.fullmatch(str(pattern), value) is None:
        problems.append(f"{value!r} does not match {spec.get('ConstraintDescription') or pattern}")
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        problems.append(f"shorter than {spec['MinLength']} characters")
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        problems.append(f"longer than {spec['MaxLength']} characters")
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            return [*problems, f"{value!r} is not a number"]
        if "MinValue" in spec and number < float(spec["MinValue"]):
            problems.append(f"{value} is below the minimum {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            problems.append(f"{value} is above the maximum {spec['MaxValue']}")
    return problems


def _rule_problems(
    rule: Mapping[str, Any], values: Mapping[str, str], declared: Mapping[str, Any]
) -> list[str]:
    condition = rule.get("RuleCondition")
    if condition is not None and not _rule_value(condition, values, declared):
        return []
    return [
        str(assertion.get("AssertDescription") or "assertion failed")
        for assertion in rule.get("Assertions") or []
        if not _rule_value(assertion["Assert"], values, declared)
    ]


def _rule_value(node: Any, values: Mapping[str, str], declared: Mapping[str, Any]) -> Any:
    """Evaluate a rule-specific intrinsic function (strings and lists of strings only, as in AWS)."""
    if isinstance(node, list):
        return [_rule_value(item, values, declared) for item in node]
    if not isinstance(node, Mapping):
        return str(node)
    if len(node) != 1:
        raise TemplateError(f"not a rule function: {node!r}")
    ((key, arg),) = node.items()

    def value(item: Any) -> Any:
        return _rule_value(item, values, declared)

    if key == "Ref":
        if arg not in values:
            raise TemplateError(f"a rule refers to {arg}, which is not a parameter")
        spec = declared.get(arg) or {}
        kind = str(spec.get("Type", "String")) if isinstance(spec, Mapping) else "String"
        is_list = kind.startswith("List<") or kind == "CommaDelimitedList"
        return [v.strip() for v in values[arg].split(",")] if is_list else values[arg]
    if key == "Fn::Equals":
        left, right = (value(item) for item in arg)
        return left == right
    if key == "Fn::Not":
        return not value(arg[0])
    if key == "Fn::And":
        return all(value(item) for item in arg)
    if key == "Fn::Or":
        return any(value(item) for item in arg)
    if key == "Fn::Contains":
        return value(arg[1]) in value(arg[0])
    if key == "Fn::EachMemberEquals":
        return all(member == value(arg[1]) for member in value(arg[0]))
    if key == "Fn::EachMemberIn":
        allowed = value(arg[1])
        return all(member in allowed for member in value(arg[0]))
    raise TemplateError(f"{key} is not evaluated locally (it needs AWS)")


def _ordering_problems(values: Mapping[str, str]) -> list[str]:
    problems = []
    if MEDIUM_PARAMETER in values and HIGH_PARAMETER in values:
        try:
            validate_thresholds(
                values[MEDIUM_PARAMETER], values[HIGH_PARAMETER], names=(MEDIUM_PARAMETER, HIGH_PARAMETER)
            )
        except ThresholdError as exc:
            problems.append(str(exc))
    return problems
