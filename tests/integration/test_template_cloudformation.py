"""template.yaml, translated by aws-sam-translator and created in moto's CloudFormation (smoke check).

Every endpoint mode is created: EndpointMode gpu, cpu, serverless and none (each with a
ModelDataUrl), and an existing endpoint by name (no ModelDataUrl).
Properties are asserted on what moto created where moto applies them, and on the translated
template where it does not (listed in MOTO_IGNORES). The resource types moto's CloudFormation skips
entirely are printed and pinned in MOTO_SKIPS, so a new one is noticed.
"""

from __future__ import annotations

import ast
import copy
import io
import json
import warnings
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.cloudformation.parsing import resource_class_from_type
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
STACK = "churn-alerts"
ARTIFACTS = "sam-artifacts-test"
MODEL_DATA_URL = "s3://churn-models-test/churn-training/output/job-1/output/model.tar.gz"
# Resource types moto's CloudFormation does not create at all (it warns and moves on).
MOTO_SKIPS = frozenset(
    {
        "AWS::S3::BucketPolicy",
        "AWS::SNS::Subscription",
        "AWS::SNS::TopicPolicy",
        "AWS::SQS::QueuePolicy",
        "AWS::CloudWatch::Alarm",
        "AWS::Lambda::EventInvokeConfig",
        "AWS::ApplicationAutoScaling::ScalableTarget",
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        # the scoring API's stage, key, usage plan, logs role and user pool
        "AWS::ApiGateway::Stage",
        "AWS::ApiGateway::ApiKey",
        "AWS::ApiGateway::UsagePlan",
        "AWS::ApiGateway::UsagePlanKey",
        "AWS::ApiGateway::Account",
        "AWS::Cognito::UserPool",
        # the agents' WebSocket API (LiveCalls=true; moto's CloudFormation has no ApiGatewayV2 model)
        "AWS::ApiGatewayV2::Api",
        "AWS::ApiGatewayV2::Deployment",
        "AWS::ApiGatewayV2::Integration",
        "AWS::ApiGatewayV2::Route",
        "AWS::ApiGatewayV2::Stage",
    }
)
# Properties moto creates the resource without (asserted on the translated template instead).
MOTO_IGNORES = {
    "AWS::S3::Bucket": ("PublicAccessBlockConfiguration", "VersioningConfiguration"),
    # moto reads SSESpecification.Enabled (the API's name), not CloudFormation's SSEEnabled.
    "AWS::DynamoDB::Table": (
        "SSESpecification",
        "PointInTimeRecoverySpecification",
        "TimeToLiveSpecification",
    ),
    # moto's Lambda reads Code, Handler, Role, Runtime, Description, MemorySize, Timeout, Environment.
    "AWS::Lambda::Function": ("Architectures", "TracingConfig", "Layers", "LoggingConfig"),
    # moto does not import the OpenAPI Body SAM writes: api_methods() gives it the methods instead.
    "AWS::ApiGateway::RestApi": ("Body",),
}


@pytest.fixture(scope="module", autouse=True)
def offline_aws() -> Any:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }.items():
            patch.setenv(name, value)
        patch.delenv("AWS_PROFILE", raising=False)
        yield


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "")
    return buffer.getvalue()


def sam_template() -> dict[str, Any]:
    """template.yaml with every local CodeUri/ContentUri pointed at S3, as `sam package` does."""
    template = yaml_parse((ROOT / "template.yaml").read_text())
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function" and isinstance(properties.get("CodeUri"), str):
            properties["CodeUri"] = {"Bucket": ARTIFACTS, "Key": f"{logical_id}.zip"}
        if resource["Type"] == "AWS::Serverless::LayerVersion" and isinstance(
            properties.get("ContentUri"), str
        ):
            properties["ContentUri"] = {"Bucket": ARTIFACTS, "Key": f"{logical_id}.zip"}
    return template


# EndpointMode values, and "existing": the default mode with no ModelDataUrl (score on EndpointName).
MODES = ("gpu", "cpu", "serverless", "none", "existing")
GPU_IMAGE = "pytorch-inference:2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker"
CPU_IMAGE = "pytorch-inference:2.6.0-cpu-py312-ubuntu22.04-sagemaker"
MOTO_CPU_INSTANCE = "ml.c5.xlarge"


def creates_endpoint(mode: str) -> bool:
    return mode in ("gpu", "cpu", "serverless")


def parameters(mode: str) -> dict[str, str]:
    values = {
        "ModelDataUrl": "" if mode == "existing" else MODEL_DATA_URL,
        "EndpointMode": "gpu" if mode == "existing" else mode,
        "AlertEmail": "retention@example.com",
    }
    if mode == "cpu":
        # moto validates instance types against an older list without ml.c6i/ml.c7i (the default).
        values["EndpointCpuInstanceType"] = MOTO_CPU_INSTANCE
    declared = sam_template().get("Parameters", {})
    return {name: value for name, value in values.items() if name in declared}


def translate(mode: str) -> dict[str, Any]:
    iam = boto3.client("iam", region_name=REGION)
    return transform(copy.deepcopy(sam_template()), parameters(mode), ManagedPolicyLoader(iam))


def create(mode: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]], list[str]]:
    """Create the stack in moto; returns the translated template, resources by logical id, warnings."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=ARTIFACTS)
    translated = translate(mode)
    api_methods(translated)
    for resource in translated["Resources"].values():
        properties = resource.get("Properties", {})
        code = properties.get("Code") or properties.get("Content")
        if isinstance(code, dict) and "S3Key" in code:
            s3.put_object(Bucket=code["S3Bucket"], Key=code["S3Key"], Body=_zip())
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cloudformation.create_stack(
            StackName=STACK,
            TemplateBody=json.dumps(translated),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters(mode).items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
    stack = cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    summaries = cloudformation.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
    created = {r["LogicalResourceId"]: r for r in summaries}
    return translated, created, [str(w.message) for w in caught]


def api_methods(template: dict[str, Any]) -> None:
    """Each REST API's OpenAPI paths as Resource and Method resources, as API Gateway imports them.

    moto's CloudFormation creates a RestApi without its Body, and then refuses a Deployment of an
    API without methods; this hands it the methods SAM wrote into the Body.
    """
    added: dict[str, Any] = {}
    for api_id, api in of_type(template, "AWS::ApiGateway::RestApi").items():
        methods = []
        for path, operations in (api["Properties"].get("Body") or {}).get("paths", {}).items():
            parent: dict[str, Any] = {"Ref": api_id}  # moto takes the API id for its root resource
            parts = path.strip("/").split("/")
            for depth, part in enumerate(parts):
                key = (
                    api_id
                    + "Path"
                    + "".join(p.strip("{}").title().replace("_", "") for p in parts[: depth + 1])
                )
                added.setdefault(
                    key,
                    {
                        "Type": "AWS::ApiGateway::Resource",
                        "Properties": {"RestApiId": {"Ref": api_id}, "ParentId": parent, "PathPart": part},
                    },
                )
                parent = {"Ref": key}
            for verb, operation in operations.items():
                schemes = {name for entry in operation.get("security", []) for name in entry}
                integration = operation["x-amazon-apigateway-integration"]
                method_id = f"{parent['Ref']}{verb.title()}"
                added[method_id] = {
                    "Type": "AWS::ApiGateway::Method",
                    "Properties": {
                        "RestApiId": {"Ref": api_id},
                        "ResourceId": parent,
                        "HttpMethod": verb.upper(),
                        "AuthorizationType": (
                            "AWS_IAM"
                            if "AWS_IAM" in schemes
                            else "COGNITO_USER_POOLS"
                            if schemes - {"api_key"}
                            else "NONE"
                        ),
                        "ApiKeyRequired": "api_key" in schemes,
                        "Integration": {
                            "Type": integration["type"].upper(),
                            "IntegrationHttpMethod": integration["httpMethod"],
                            "Uri": integration["uri"],
                        },
                    },
                }
                methods.append(method_id)
        for deployment in of_type(template, "AWS::ApiGateway::Deployment").values():
            if deployment["Properties"]["RestApiId"] == {"Ref": api_id}:
                deployment["DependsOn"] = methods
    template["Resources"].update(added)


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def event_types(function: str) -> set[str]:
    """The SAM event types of a function (Api, Schedule, ...), from template.yaml."""
    props = sam_template()["Resources"][function].get("Properties") or {}
    return {event["Type"] for event in (props.get("Events") or {}).values()}


def branches(value: Any) -> list[Any]:
    """Every value an ``Fn::If`` may take (each branch, recursively); the value itself otherwise."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        _, when_true, when_false = value["Fn::If"]
        return branches(when_true) + branches(when_false)
    return [value]


def created_of_type(
    template: dict[str, Any], created: dict[str, Any], kind: str
) -> dict[str, dict[str, Any]]:
    """The resources of a type the stack created: a resource whose condition is false is not."""
    found = of_type(template, kind)
    for logical_id, resource in found.items():
        assert logical_id in created or "Condition" in resource, f"{logical_id} was not created"
    return {k: r for k, r in found.items() if k in created}


# One stack per mode, shared by the module's tests (creating it takes a few seconds).
@pytest.fixture(scope="module", params=MODES)
def stack(request: pytest.FixtureRequest, offline_aws: Any) -> Any:
    with mock_aws(config={"lambda": {"use_docker": False}}):
        yield (request.param, *create(request.param))


def test_every_resource_is_created_or_a_known_moto_skip(stack: Any) -> None:
    mode, translated, created, caught = stack
    create_endpoint = creates_endpoint(mode)
    kinds = {r["Type"] for r in translated["Resources"].values()}
    skipped = {kind for kind in kinds if resource_class_from_type(kind) is None}
    print(f"\nmoto's CloudFormation skips: {', '.join(sorted(skipped))}")
    warned = {m.split("Tried to parse ")[1].split(" but")[0] for m in caught if "Tried to parse " in m}
    # Conditional resources are not even parsed when their condition is false: a skipped type
    # moto did not warn about must be one whose every resource is conditional (e.g. the
    # API Gateway logging role, ApiGatewayLogsRole=false by default).
    assert warned <= skipped
    for kind in skipped - warned:
        assert all("Condition" in r for r in of_type(translated, kind).values()), kind
    assert skipped <= MOTO_SKIPS, f"new resource types moto skips: {sorted(skipped - MOTO_SKIPS)}"
    conditions = translated.get("Conditions", {})
    for logical_id, resource in translated["Resources"].items():
        if resource["Type"] in skipped:
            continue
        if "Condition" in resource and resource["Condition"] in conditions:
            continue  # checked per mode below
        assert logical_id in created, f"{logical_id} ({resource['Type']}) was not created"
    endpoint_kinds = ("AWS::SageMaker::Model", "AWS::SageMaker::EndpointConfig", "AWS::SageMaker::Endpoint")
    endpoints = [k for k, r in created.items() if r["ResourceType"] in endpoint_kinds]
    if create_endpoint:
        assert {created[k]["ResourceType"] for k in endpoints} == set(endpoint_kinds)
    else:
        assert endpoints == []


def test_buckets_are_encrypted_and_private(stack: Any) -> None:
    _, translated, created, _ = stack
    s3 = boto3.client("s3", region_name=REGION)
    buckets = of_type(translated, "AWS::S3::Bucket")
    assert buckets
    for logical_id, resource in buckets.items():
        name = created[logical_id]["PhysicalResourceId"]
        rules = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] in (
            "AES256",
            "aws:kms",
            "aws:kms:dsse",
        )
        block = resource["Properties"]["PublicAccessBlockConfiguration"]  # MOTO_IGNORES
        assert block == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
    policies = of_type(translated, "AWS::S3::BucketPolicy")
    denied = [
        s
        for p in policies.values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny"
        and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
    ]
    assert denied, "no bucket policy denies plain HTTP"


def test_tables_are_encrypted_recoverable_and_retained(stack: Any) -> None:
    _, translated, created, _ = stack
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    tables = created_of_type(translated, created, "AWS::DynamoDB::Table")
    assert {"CallsTable", "ProfilesTable"} <= set(tables)
    for logical_id, resource in tables.items():
        assert resource.get("DeletionPolicy") == "RetainExceptOnCreate", logical_id
        properties = resource["Properties"]  # MOTO_IGNORES: SSE, PITR and TTL are asserted here
        # Encrypted either way: with the customer's key (DataKmsKeyArn) or with DynamoDB's own.
        for sse in branches(properties["SSESpecification"]):
            assert sse["SSEEnabled"] is True, logical_id
            assert sse.get("SSEType", "KMS") == "KMS" and sse.get(
                "KMSMasterKeyId", {"Ref": "DataKmsKeyArn"}
            ) == {"Ref": "DataKmsKeyArn"}, logical_id
        assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, (
            logical_id
        )
        table = dynamodb.describe_table(TableName=created[logical_id]["PhysicalResourceId"])["Table"]
        assert table["TableStatus"] == "ACTIVE"
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    calls = dynamodb.describe_table(TableName=created["CallsTable"]["PhysicalResourceId"])["Table"]
    assert calls["KeySchema"] == [{"AttributeName": "job_name", "KeyType": "HASH"}]
    assert tables["CallsTable"]["Properties"]["TimeToLiveSpecification"]["Enabled"] is True


def test_topics_are_encrypted_with_their_keys(stack: Any) -> None:
    _, translated, created, _ = stack
    sns = boto3.client("sns", region_name=REGION)
    # moto stores a CloudFormation key's policy as a dict and then fails to parse it on
    # DescribeKey, so the key is found with ListKeys and its settings read from the template.
    key_ids = {k["KeyId"] for k in boto3.client("kms", region_name=REGION).list_keys()["Keys"]}
    keys = of_type(translated, "AWS::KMS::Key")
    topics = of_type(translated, "AWS::SNS::Topic")
    assert topics
    for logical_id, resource in topics.items():
        attributes = sns.get_topic_attributes(TopicArn=created[logical_id]["PhysicalResourceId"])[
            "Attributes"
        ]
        assert attributes.get("KmsMasterKeyId") in key_ids, f"{logical_id} is not encrypted with a stack key"
        key_logical_id = resource["Properties"]["KmsMasterKeyId"]["Ref"]
        assert keys[key_logical_id]["Properties"]["EnableKeyRotation"] is True


def test_functions_runtime_architecture_and_environment(stack: Any) -> None:
    mode, translated, created, _ = stack
    create_endpoint = creates_endpoint(mode)
    lambda_client = boto3.client("lambda", region_name=REGION)
    functions = created_of_type(translated, created, "AWS::Lambda::Function")
    assert {"StartTranscriptionFunction", "ScoreCallFunction"} <= set(functions)
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in boto3.client("cloudformation", region_name=REGION).describe_stacks(StackName=STACK)[
            "Stacks"
        ][0]["Outputs"]
    }
    for logical_id, resource in functions.items():
        config = lambda_client.get_function_configuration(
            FunctionName=created[logical_id]["PhysicalResourceId"]
        )
        assert config["Runtime"] == "python3.13"
        assert resource["Properties"]["Architectures"] == ["arm64"]  # MOTO_IGNORES
        assert resource["Properties"]["TracingConfig"] == {"Mode": "Active"}  # MOTO_IGNORES
        # The reconciler is the score function's code with its own entry point.
        # The handler is a function of a module in the function's own code folder.
        module, _, entry = config["Handler"].rpartition(".")
        code = (
            ROOT
            / yaml_parse((ROOT / "template.yaml").read_text())["Resources"][logical_id]["Properties"][
                "CodeUri"
            ]
        )
        assert entry.endswith("handler") and (code / f"{module.replace('.', '/')}.py").is_file(), logical_id
        # the API answers inside API Gateway's 29 s integration limit; the pipeline's run longer
        # An API's functions answer inside API Gateway's 29 s integration limit (the score API calls
        # the endpoint, so it gets nearly all of it); the pipeline's run longer.
        if logical_id == "ScoreApiFunction":
            assert 28 <= config["Timeout"] < 29
        else:
            assert config["Timeout"] < 29 if "Api" in event_types(logical_id) else config["Timeout"] >= 60
        layers = [layer["Ref"] for layer in resource["Properties"]["Layers"]]  # MOTO_IGNORES
        assert set(layers) <= set(of_type(translated, "AWS::Lambda::LayerVersion")), logical_id
        # Every function imports the shared contracts and Lambda helpers from the layers.
        assert {"ContractsLayer", "SharedLayer"} <= {ref.rstrip("0123456789abcdef") for ref in layers}
        env = config["Environment"]["Variables"]
        assert env["CALLS_TABLE"] == outputs["CallsTableName"]
        assert env["RECORDINGS_BUCKET"] == outputs["RecordingsBucketName"]
    score = lambda_client.get_function_configuration(
        FunctionName=created["ScoreCallFunction"]["PhysicalResourceId"]
    )["Environment"]["Variables"]
    assert score["PROFILES_TABLE"] == outputs["ProfilesTableName"]
    assert score["ALERT_TOPIC_ARN"] == outputs["AlertTopicArn"]
    assert score["ENDPOINT_NAME"] == outputs["ScoringEndpointName"]
    if create_endpoint:  # the endpoint the stack created (moto names it itself, ignoring EndpointName)
        assert score["ENDPOINT_NAME"] == created["ScoringEndpoint"]["PhysicalResourceId"].rsplit("/", 1)[-1]
    else:  # the EndpointName parameter's default
        assert score["ENDPOINT_NAME"] == translated["Parameters"]["EndpointName"]["Default"]


def test_failures_land_in_queues(stack: Any) -> None:
    _, translated, created, _ = stack
    sqs = boto3.client("sqs", region_name=REGION)
    queues = created_of_type(translated, created, "AWS::SQS::Queue")
    assert len(queues) >= 2
    for logical_id in queues:
        url = created[logical_id]["PhysicalResourceId"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attributes["SqsManagedSseEnabled"] == "true" or "KmsMasterKeyId" in attributes, logical_id
    # Every asynchronous function sends its failures somewhere (EventInvokeConfig: MOTO_SKIPS).
    # A scheduled run has nothing worth redriving: the next run does its work (no destination);
    # the scoring API is invoked synchronously: its errors go back to the caller.
    configs = of_type(translated, "AWS::Lambda::EventInvokeConfig")
    on_failure = {
        c["Properties"]["FunctionName"]["Ref"]: c["Properties"]["DestinationConfig"]["OnFailure"][
            "Destination"
        ]
        for c in configs.values()
        if "OnFailure" in c["Properties"].get("DestinationConfig", {})
    }
    functions = set(created_of_type(translated, created, "AWS::Lambda::Function"))
    scheduled = {f for f in functions if "Schedule" in event_types(f)}
    synchronous = {f for f in functions if "Api" in event_types(f)}  # errors go back to the caller
    assert {"ReconcileCallsFunction"} <= scheduled and {"ScoreApiFunction"} <= synchronous
    assert set(on_failure) & functions == functions - scheduled - synchronous
    assert all(d["Fn::GetAtt"][0] in queues for d in on_failure.values())


def test_rules_target_the_functions_with_dead_letter_queues(stack: Any) -> None:
    _, translated, created, _ = stack
    events = boto3.client("events", region_name=REGION)
    functions = created_of_type(translated, created, "AWS::Lambda::Function")
    queues = created_of_type(translated, created, "AWS::SQS::Queue")
    rules = created_of_type(translated, created, "AWS::Events::Rule")
    assert rules
    sources = set()
    for logical_id, resource in rules.items():
        name = created[logical_id]["PhysicalResourceId"]
        rule = events.describe_rule(Name=name)
        if "ScheduleExpression" in resource["Properties"]:  # the reconciler's schedule, checked below
            continue
        sources.update(json.loads(rule["EventPattern"])["source"])
        targets = events.list_targets_by_rule(Rule=name)["Targets"]
        assert targets
        for target in resource["Properties"]["Targets"]:
            assert target["Arn"]["Fn::GetAtt"][0] in functions
            assert target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0] in queues
    assert {"aws.s3", "aws.transcribe"} <= sources


def test_endpoint_mode_decides_what_the_score_function_may_invoke(stack: Any) -> None:
    mode, translated, created, _ = stack
    create_endpoint = creates_endpoint(mode)
    iam = boto3.client("iam", region_name=REGION)
    role = created["ScoreCallRole"]["PhysicalResourceId"]
    statements = _inline_statements(iam, role)
    invoke = [s for s in statements if "sagemaker:InvokeEndpoint" in s["Action"]]
    assert len(invoke) == 1
    resources = invoke[0]["Resource"]
    assert isinstance(resources, str), "InvokeEndpoint on exactly one endpoint"
    if not create_endpoint:
        assert resources == f"arn:aws:sagemaker:{REGION}:123456789012:endpoint/churn-risk"
        return
    assert resources == created["ScoringEndpoint"]["PhysicalResourceId"]
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    model_name = created["ScoringModel"]["PhysicalResourceId"].rsplit("/", 1)[-1]  # moto gives the ARN
    container = sagemaker.describe_model(ModelName=model_name)["PrimaryContainer"]
    assert container["ModelDataUrl"] == MODEL_DATA_URL
    image = GPU_IMAGE if mode == "gpu" else CPU_IMAGE
    assert container["Image"] == f"763104351884.dkr.ecr.us-east-1.amazonaws.com/{image}"
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    config_name = created["ScoringEndpointConfig"]["PhysicalResourceId"].rsplit("/", 1)[-1]
    (variant,) = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)["ProductionVariants"]
    defaults = translated["Parameters"]
    if mode == "serverless":  # no instances and no autoscaling: it scales itself, to zero
        assert "InstanceType" not in variant and "InitialInstanceCount" not in variant
        assert variant["ServerlessConfig"] == {
            "MemorySizeInMB": int(defaults["ServerlessMemorySizeInMB"]["Default"]),
            "MaxConcurrency": int(defaults["ServerlessMaxConcurrency"]["Default"]),
        }
    else:
        expected = defaults["EndpointInstanceType"]["Default"] if mode == "gpu" else MOTO_CPU_INSTANCE
        assert variant["InstanceType"] == expected
        assert expected.startswith("ml.g" if mode == "gpu" else "ml.c")
        assert "ServerlessConfig" not in variant
    # Autoscaling exists for real-time endpoints only (moto skips these types, so the condition is read).
    (target,) = of_type(translated, "AWS::ApplicationAutoScaling::ScalableTarget").values()
    assert target["Condition"] == "RealTimeEndpoint"
    assert translated["Conditions"]["RealTimeEndpoint"]["Fn::And"][1] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "EndpointMode"}, "serverless"]}]
    }
    # The endpoint's name carries the mode and instance type, so changing either replaces it.
    endpoint = of_type(translated, "AWS::SageMaker::Endpoint")["ScoringEndpoint"]["Properties"]
    assert endpoint["RetainAllVariantProperties"] is True
    assert (
        "EndpointConfigName"
        not in of_type(translated, "AWS::SageMaker::EndpointConfig")["ScoringEndpointConfig"]["Properties"]
    ), "a fixed config name would block replacing it"
    # The model role reads the artifact, and Batch Transform's batch/in/, and writes batch/out/.
    model_role = created["ScoringModelRole"]["PhysicalResourceId"]
    model_statements = _inline_statements(iam, model_role)
    s3_statements = [s for s in model_statements if any(a.startswith("s3:") for a in _actions(s))]
    bucket = "arn:aws:s3:::" + created["RecordingsBucket"]["PhysicalResourceId"]
    assert [(_actions(s), s["Resource"]) for s in s3_statements] == [
        (["s3:GetObject"], "arn:aws:s3:::" + MODEL_DATA_URL.removeprefix("s3://")),
        (["s3:GetObject"], f"{bucket}/batch/in/*"),
        (["s3:ListBucket"], bucket),
        (["s3:PutObject", "s3:AbortMultipartUpload"], f"{bucket}/batch/out/*"),
    ]


def _inline_statements(iam: Any, role: str) -> list[dict[str, Any]]:
    statements = []
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        if isinstance(document, str):
            # moto's CloudFormation stores an inline policy as the Python repr of the dict.
            document = json.loads(document) if document.startswith('{"') else ast.literal_eval(document)
        statements.extend(document["Statement"])
    return statements


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_score_api_routes_need_iam_and_a_key_with_a_usage_plan_logs_and_tracing(stack: Any) -> None:
    _, translated, created, _ = stack
    apigateway = boto3.client("apigateway", region_name=REGION)
    api_id = created["ScoreApi"]["PhysicalResourceId"]
    routes = {
        (resource["path"], verb): apigateway.get_method(
            restApiId=api_id, resourceId=resource["id"], httpMethod=verb
        )
        for resource in apigateway.get_resources(restApiId=api_id)["items"]
        for verb in resource.get("resourceMethods", {})
    }
    scoring = {
        ("/v1/score", "POST"),
        ("/v1/calls/{call_id}", "GET"),
        ("/v1/customers/{customer_id}/calls", "GET"),
    }
    outcomes = {
        ("/v1/customers/{customer_id}/outcomes", "POST"),
        ("/v1/customers/{customer_id}/outcomes", "GET"),
    }
    # The one-click outcome links are opened from an alert: signed in the URL, no IAM and no key.
    links = {("/v1/outcome-links/{token}", "GET"), ("/v1/outcome-links/{token}", "POST")}
    assert set(routes) == scoring | outcomes | links
    for route, method in routes.items():
        function = "ScoreApiFunction" if route in scoring else "OutcomesApiFunction"
        if route in links:
            assert method["authorizationType"] == "NONE" and method["apiKeyRequired"] is False, route
        else:
            assert method["authorizationType"] == "AWS_IAM" and method["apiKeyRequired"] is True, route
        assert method["methodIntegration"]["type"] == "AWS_PROXY"
        assert created[function]["PhysicalResourceId"] in method["methodIntegration"]["uri"], route
    # What moto skips, asserted on the translated template (MOTO_SKIPS).
    stage = of_type(translated, "AWS::ApiGateway::Stage")["ScoreApiliveStage"]["Properties"]
    assert stage["TracingEnabled"] is True
    log_format = stage["AccessLogSetting"]["Format"]
    for field in (
        "$context.requestId",
        "$context.identity.caller",
        "$context.resourcePath",
        "$context.status",
    ):
        assert field in log_format
    assert "body" not in log_format.lower() and "$input" not in log_format
    assert all(setting.get("DataTraceEnabled") is False for setting in stage["MethodSettings"])
    (plan,) = of_type(translated, "AWS::ApiGateway::UsagePlan").values()
    parameters = translated["Parameters"]
    throttle, quota = plan["Properties"]["Throttle"], plan["Properties"]["Quota"]
    assert str(throttle["RateLimit"]) == str(parameters["ApiThrottleRate"]["Default"])
    assert str(throttle["BurstLimit"]) == str(parameters["ApiThrottleBurst"]["Default"])
    assert str(quota["Limit"]) == str(parameters["ApiDailyQuota"]["Default"]) and quota["Period"] == "DAY"
    body = translated["Resources"]["ScoreApi"]["Properties"]["Body"]  # MOTO_IGNORES
    responses = body["x-amazon-apigateway-gateway-responses"]
    for kind in ("INVALID_API_KEY", "MISSING_AUTHENTICATION_TOKEN", "THROTTLED", "QUOTA_EXCEEDED"):
        template = json.loads(responses[kind]["responseTemplates"]["application/json"])
        assert set(template) == {"error", "field"}
    assert (
        responses["THROTTLED"]["statusCode"] == "429" and responses["INVALID_API_KEY"]["statusCode"] == "403"
    )


def test_reconciler_index_versioning_and_burst_settings(stack: Any) -> None:
    """Issue 10: the reconciler on its schedule, the sparse in-flight index, versioned recordings,
    deferred transcription with its data access role, and reserved concurrency."""
    _, translated, created, _ = stack
    for logical_id in ("ReconcileCallsFunction", "ReconcileCallsRole", "TranscribeDataAccessRole"):
        assert logical_id in created, logical_id
    (schedule_id,) = [
        k
        for k, r in of_type(translated, "AWS::Events::Rule").items()
        if "ScheduleExpression" in r["Properties"]
        and any(
            t["Arn"] == {"Fn::GetAtt": ["ReconcileCallsFunction", "Arn"]} for t in r["Properties"]["Targets"]
        )
    ]
    assert schedule_id in created
    events = boto3.client("events", region_name=REGION)
    rule = events.describe_rule(Name=created[schedule_id]["PhysicalResourceId"])
    assert rule["ScheduleExpression"] == "rate(5 minutes)"

    dynamodb = boto3.client("dynamodb", region_name=REGION)
    calls = dynamodb.describe_table(TableName=created["CallsTable"]["PhysicalResourceId"])["Table"]
    (index,) = [i for i in calls["GlobalSecondaryIndexes"] if i["IndexName"] == "by-open-status"]
    assert index["KeySchema"] == [
        {"AttributeName": "open_status", "KeyType": "HASH"},
        {"AttributeName": "updated_at", "KeyType": "RANGE"},
    ]
    assert index["Projection"]["ProjectionType"] == "KEYS_ONLY"

    bucket = translated["Resources"]["RecordingsBucket"]["Properties"]  # MOTO_IGNORES: versioning
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = {r["Id"]: r for r in bucket["LifecycleConfiguration"]["Rules"]}
    for rule_id in ("expire-old-recording-versions", "expire-old-transcript-versions"):
        assert rules[rule_id]["NoncurrentVersionExpiration"]["NoncurrentDays"] > 0
    # Old versions of the offer rules stay: alerts cite the version they were made with.
    expiring = [r.get("Prefix", "") for r in rules.values() if "NoncurrentVersionExpiration" in r]
    assert expiring and not any(prefix in ("", "offers/") for prefix in expiring)

    lambdas = boto3.client("lambda", region_name=REGION)
    start = lambdas.get_function_configuration(
        FunctionName=created["StartTranscriptionFunction"]["PhysicalResourceId"]
    )["Environment"]["Variables"]
    assert str(start["DEFERRED_EXECUTION"]).lower() == "true"
    assert start["TRANSCRIBE_DATA_ACCESS_ROLE_ARN"].endswith(
        created["TranscribeDataAccessRole"]["PhysicalResourceId"]
    )
    for function in ("StartTranscriptionFunction", "ScoreCallFunction"):
        reserved = translated["Resources"][function]["Properties"]["ReservedConcurrentExecutions"]
        assert reserved["Fn::If"][0].startswith("Reserve"), function
    reconcile = lambdas.get_function_configuration(
        FunctionName=created["ReconcileCallsFunction"]["PhysicalResourceId"]
    )
    assert reconcile["Handler"] == "score_call.reconcile.lambda_handler"
    assert str(reconcile["Environment"]["Variables"]["RECONCILE_AFTER_MINUTES"]) == "10"
