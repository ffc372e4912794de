"""template.yaml: encryption, retention, wiring, alarms, endpoint modes, and env/code agreement."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.unit.test_template_iam import load_template

T = load_template()
R = T["Resources"]


def props(logical_id: str) -> dict[str, Any]:
    return R[logical_id]["Properties"]


def of_type(kind: str) -> list[str]:
    return [lid for lid, resource in R.items() if resource["Type"] == kind]


def test_data_resources_are_retained_except_when_their_first_deploy_rolls_back():
    for logical_id in ("RecordingsBucket", "ProfilesTable", "CallsTable", "CustomerAlertsTable"):
        assert R[logical_id]["DeletionPolicy"] == "RetainExceptOnCreate"
        # RetainExceptOnCreate is a DeletionPolicy only; a replacement keeps the old one.
        assert R[logical_id]["UpdateReplacePolicy"] == "Retain"


def test_bucket_is_encrypted_private_notifies_eventbridge_and_expires():
    bucket = props("RecordingsBucket")
    rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    condition, with_key, without = rule["Fn::If"]  # DataKmsKeyArn: SSE-KMS with that key, else SSE-S3
    assert condition == "HasDataKmsKey" and with_key["SSEAlgorithm"] == "aws:kms"
    assert without == {"SSEAlgorithm": "AES256"}
    assert (
        all(bucket["PublicAccessBlockConfiguration"].values())
        and len(bucket["PublicAccessBlockConfiguration"]) == 4
    )
    assert bucket["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"] is True
    prefixes = {r.get("Prefix") for r in bucket["LifecycleConfiguration"]["Rules"] if "ExpirationInDays" in r}
    assert prefixes == {"recordings/", "transcripts/", "batch/", "data-capture/"}


@pytest.mark.parametrize("table", ["ProfilesTable", "CallsTable", "CustomerAlertsTable"])
def test_tables_are_encrypted_with_point_in_time_recovery(table):
    condition, with_key, without = props(table)["SSESpecification"]["Fn::If"]
    assert condition == "HasDataKmsKey" and with_key["SSEEnabled"] is True and without == {"SSEEnabled": True}
    assert props(table)["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_calls_table_is_keyed_by_job_name_and_expires_items():
    from churn_contracts.calls import CALLS_KEY

    assert props("CallsTable")["KeySchema"] == [{"AttributeName": CALLS_KEY, "KeyType": "HASH"}]
    assert props("CallsTable")["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_topics_are_kms_encrypted_and_cloudwatch_may_use_the_ops_key():
    assert props("AlertTopic")["KmsMasterKeyId"] == {"Ref": "AlertTopicKey"}
    assert props("OpsTopic")["KmsMasterKeyId"] == {"Ref": "OpsTopicKey"}
    principals = [s["Principal"] for s in props("OpsTopicKey")["KeyPolicy"]["Statement"]]
    assert {"Service": "cloudwatch.amazonaws.com"} in principals
    assert props("AlertEmailSubscription")["Protocol"] == "email" and R["AlertEmailSubscription"]["Condition"]


def test_queues_are_encrypted():
    for queue in of_type("AWS::SQS::Queue"):
        assert props(queue)["SqsManagedSseEnabled"] is True


@pytest.mark.parametrize(
    ("function", "handler"),
    [
        ("StartTranscriptionFunction", "start_transcription.handler.lambda_handler"),
        ("ScoreCallFunction", "score_call.handler.lambda_handler"),
    ],
)
def test_functions_run_python313_arm64_with_the_layer_and_log_retention(function, handler):
    globals_ = T["Globals"]["Function"]
    assert globals_["Runtime"] == "python3.13" and globals_["Architectures"] == ["arm64"]
    assert globals_["Layers"] == [{"Ref": "ContractsLayer"}, {"Ref": "SharedLayer"}]
    assert props(function)["Handler"] == handler
    log_group = props(function)["LoggingConfig"]["LogGroup"]["Ref"]
    assert props(log_group)["RetentionInDays"] == {"Ref": "LogRetentionDays"}


@pytest.mark.parametrize(
    ("function", "queue"),
    [
        ("StartTranscriptionFunction", "StartTranscriptionFailuresQueue"),
        ("ScoreCallFunction", "ScoreCallFailuresQueue"),
    ],
)
def test_functions_send_failed_events_to_their_queue(function, queue):
    config = props(function)["EventInvokeConfig"]
    assert config["MaximumRetryAttempts"] == 2
    assert config["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS",
        "Destination": {"Fn::GetAtt": [queue, "Arn"]},
    }


@pytest.mark.parametrize(
    ("rule", "function", "dlq"),
    [
        ("RecordingCreatedRule", "StartTranscriptionFunction", "RecordingEventsDLQ"),
        ("TranscriptionStateChangeRule", "ScoreCallFunction", "TranscriptionEventsDLQ"),
    ],
)
def test_rules_target_their_function_with_retries_and_a_dlq(rule, function, dlq):
    (target,) = props(rule)["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [function, "Arn"]}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq, "Arn"]}}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    permissions = [
        p
        for p in of_type("AWS::Lambda::Permission")
        if props(p)["SourceArn"] == {"Fn::GetAtt": [rule, "Arn"]}
    ]
    assert len(permissions) == 1 and props(permissions[0])["FunctionName"] == {"Ref": function}


def test_recording_rule_matches_only_the_upload_prefix():
    pattern = props("RecordingCreatedRule")["EventPattern"]
    assert pattern["source"] == ["aws.s3"] and pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["object"]["key"] == [{"prefix": "recordings/"}]
    assert pattern["detail"]["bucket"]["name"] == [{"Ref": "RecordingsBucket"}]


def test_transcribe_rule_matches_this_stacks_job_prefix():
    pattern = props("TranscriptionStateChangeRule")["EventPattern"]
    assert pattern["detail"]["TranscriptionJobStatus"] == ["COMPLETED", "FAILED"]
    prefix = pattern["detail"]["TranscriptionJobName"][0]["prefix"]
    assert prefix == T["Globals"]["Function"]["Environment"]["Variables"]["JOB_NAME_PREFIX"]


def test_rule_dlqs_accept_messages_only_from_their_rule():
    statements = props("RuleDLQPolicy")["PolicyDocument"]["Statement"]
    sources = {
        s["Resource"]["Fn::GetAtt"][0]: s["Condition"]["ArnEquals"]["aws:SourceArn"] for s in statements
    }
    assert sources == {
        "RecordingEventsDLQ": {"Fn::GetAtt": ["RecordingCreatedRule", "Arn"]},
        "TranscriptionEventsDLQ": {"Fn::GetAtt": ["TranscriptionStateChangeRule", "Arn"]},
    }


def test_alarms_cover_every_queue_both_functions_and_failed_transcriptions():
    alarms = [props(a) for a in of_type("AWS::CloudWatch::Alarm")]
    assert all(a["AlarmActions"] == [{"Ref": "OpsTopic"}] for a in alarms)
    queues = {a["Dimensions"][0]["Value"]["Fn::GetAtt"][0] for a in alarms if a.get("Namespace") == "AWS/SQS"}
    assert queues == set(of_type("AWS::SQS::Queue"))
    functions = {a["Dimensions"][0]["Value"]["Ref"] for a in alarms if a.get("MetricName") == "Errors"}
    # ScoreCallFunction's Errors count its designed retries: its failures alarm through the code's
    # metrics and its failure queue instead (test_template_alarms.py).
    # LiveScoreFunction's Errors are failed batches (a bad record fails alone, in a partial response).
    assert functions == {"StartTranscriptionFunction", "LiveScoreFunction"}
    custom = {
        (a["MetricName"], a["Dimensions"][0]["Value"]) for a in alarms if a.get("Namespace") == "ChurnAlerts"
    }
    # Issue 10 section 4: failures of both functions, rejections, stuck calls.
    assert {
        ("TranscriptionsFailed", "score-call"),
        ("TranscriptionsFailed", "start-transcription"),
        ("RecordingsRejected", "start-transcription"),
        ("CallsStuck", "score-call"),
    } <= custom
    endpoint = {a["MetricName"] for a in alarms if a.get("Namespace") == "AWS/SageMaker"}
    assert endpoint >= {"Invocation5XXErrors", "ModelLatency"}
    (speech,) = [a for a in alarms if "Metrics" in a and a["Metrics"][0]["Id"] == "silent"]
    metrics = {m["Id"]: m for m in speech["Metrics"]}
    assert metrics["silent"]["MetricStat"]["Metric"]["MetricName"] == "NoCustomerSpeech"
    assert metrics["scored"]["MetricStat"]["Metric"]["MetricName"] == "CallsScored"
    assert speech["Threshold"] == {"Ref": "NoCustomerSpeechAlarmRate"}


def test_custom_metric_alarms_use_the_namespace_and_service_the_code_emits():
    from drift_monitor import handler as drift_monitor
    from live_score import observability as live_observability
    from score_call import observability
    from start_transcription import observability as start_observability

    services = {
        observability.SERVICE,
        start_observability.SERVICE,
        live_observability.SERVICE,
        drift_monitor.SERVICE,
    }
    metrics = [props(a) for a in of_type("AWS::CloudWatch::Alarm")]
    metrics += [m["MetricStat"]["Metric"] for a in metrics for m in a.get("Metrics", []) if "MetricStat" in m]
    for alarm in metrics:
        if alarm.get("Namespace") == "ChurnAlerts":
            assert alarm["Namespace"] == observability.NAMESPACE == start_observability.NAMESPACE
            (dimension,) = alarm["Dimensions"]
            assert dimension["Name"] == "service" and dimension["Value"] in services
    assert (
        T["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
        == observability.NAMESPACE
    )


PARAMETERS = {
    "EndpointName",
    "ModelDataUrl",
    "EndpointInstanceType",
    "EndpointMinInstances",
    "EndpointMaxInstances",
    "MediumRiskThreshold",
    "HighRiskThreshold",
    "AlertSuppressionDays",
    "CustomerChannel",
    "CustomerSpeaker",
    "LanguageCode",
    "PiiRedaction",
    "AlertExcerpts",
    "AlertEmail",
    "OpsEmail",
    "LogLevel",
    "LogRetentionDays",
}
OUTPUTS = {
    "RecordingsBucketName",
    "UploadPrefix",
    "AlertTopicArn",
    "OpsTopicArn",
    "ProfilesTableName",
    "CallsTableName",
    "RecordingEventsDLQUrl",
    "TranscriptionEventsDLQUrl",
    "StartTranscriptionFailuresQueueUrl",
    "ScoreCallFailuresQueueUrl",
}


def test_parameters_and_outputs():
    assert set(T["Parameters"]) >= PARAMETERS
    assert set(T["Outputs"]) >= OUTPUTS
    for name, parameter in T["Parameters"].items():
        assert "Default" in parameter, f"{name} needs a default so `sam deploy` works unguided"


def test_threshold_defaults_are_ordered():
    medium = float(T["Parameters"]["MediumRiskThreshold"]["Default"])
    assert 0 <= medium <= float(T["Parameters"]["HighRiskThreshold"]["Default"]) <= 1


# --- the endpoint --------------------------------------------------------------------------------


def test_model_uses_the_pytorch_inference_dlc_by_region():
    container = props("ScoringModel")["PrimaryContainer"]
    image, variables = container["Image"]["Fn::Sub"]
    assert image.endswith("/pytorch-inference:2.6.0-${Flavour}-py312${Cuda}-ubuntu22.04-sagemaker")
    assert variables["Account"] == {"Fn::FindInMap": ["DlcRegistry", {"Ref": "AWS::Region"}, "Account"]}
    assert container["ModelDataUrl"] == {"Ref": "ModelDataUrl"}
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    mapping = T["Mappings"]["DlcRegistry"]
    assert mapping["us-east-1"]["Account"] == "763104351884" and len(mapping) >= 20
    assert all(re.fullmatch(r"\d{12}", entry["Account"]) for entry in mapping.values())


def test_endpoint_modes_pick_consistent_instance_types():
    mode = T["Parameters"]["EndpointMode"]
    assert (mode["Default"], mode["AllowedValues"]) == ("gpu", ["gpu", "cpu", "serverless", "none"])
    gpu, cpu = T["Parameters"]["EndpointInstanceType"], T["Parameters"]["EndpointCpuInstanceType"]
    assert gpu["Default"] == "ml.g4dn.xlarge"
    assert {"ml.g5.xlarge", "ml.g6.xlarge"} <= set(gpu["AllowedValues"])
    assert all(t.startswith(("ml.g4dn.", "ml.g5.", "ml.g6.")) for t in gpu["AllowedValues"])
    assert all(t.startswith(("ml.c", "ml.m")) for t in cpu["AllowedValues"]), "no GPU types in cpu mode"
    (variant,) = props("ScoringEndpointConfig")["ProductionVariants"]
    assert variant["InstanceType"] == {
        "Fn::If": [
            "ServerlessEndpoint",
            {"Ref": "AWS::NoValue"},
            {"Fn::If": ["GpuEndpoint", {"Ref": "EndpointInstanceType"}, {"Ref": "EndpointCpuInstanceType"}]},
        ]
    }
    assert variant["ServerlessConfig"]["Fn::If"][1] == {
        "MemorySizeInMB": {"Ref": "ServerlessMemorySizeInMB"},
        "MaxConcurrency": {"Ref": "ServerlessMaxConcurrency"},
    }
    assert T["Conditions"]["GpuEndpoint"] == {"Fn::Equals": [{"Ref": "EndpointMode"}, "gpu"]}
    # The GPU image only where there is a GPU; the CPU image for cpu and serverless.
    image, names = props("ScoringModel")["PrimaryContainer"]["Image"]["Fn::Sub"]
    assert "2.6.0-${Flavour}-py312${Cuda}-ubuntu22.04" in image
    assert names["Flavour"] == {"Fn::If": ["GpuEndpoint", "gpu", "cpu"]}
    assert names["Cuda"] == {"Fn::If": ["GpuEndpoint", "-cu124", ""]}


def test_endpoint_resources_exist_only_in_create_mode():
    assert T["Conditions"]["CreateEndpoint"] == {
        "Fn::And": [
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "ModelDataUrl"}, ""]}]},
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "EndpointMode"}, "none"]}]},
        ]
    }
    for logical_id in ("ScoringModelRole", "ScoringModel", "ScoringEndpointConfig", "ScoringEndpoint"):
        assert R[logical_id]["Condition"] == "CreateEndpoint"
    # A serverless endpoint scales itself (to zero); autoscaling is for real-time instances.
    for logical_id in ("ScoringEndpointScalableTarget", "ScoringEndpointScalingPolicy"):
        assert R[logical_id]["Condition"] == "RealTimeEndpoint"
    assert T["Conditions"]["RealTimeEndpoint"] == {
        "Fn::And": [
            {"Condition": "CreateEndpoint"},
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "EndpointMode"}, "serverless"]}]},
        ]
    }


def test_an_instance_type_change_replaces_the_endpoint_and_a_model_update_keeps_its_count():
    # Updating an autoscaled variant to another instance type fails; a new endpoint name means
    # CloudFormation creates a new endpoint and scalable target, then deletes the old pair.
    endpoint = props("ScoringEndpoint")
    parts = endpoint["EndpointName"]["Fn::Join"][1]
    assert parts[0] == "churn" and "AWS::StackId" in str(parts[1])  # <= 63 characters: test_template_traps
    assert "EndpointInstanceType" in str(parts[2]) and "EndpointCpuInstanceType" in str(parts[2])
    assert "serverless" in str(parts[2])
    assert endpoint["RetainAllVariantProperties"] is True
    # Configs are immutable: no fixed name, so every change gets a new generated one.
    assert "EndpointConfigName" not in props("ScoringEndpointConfig")


def test_network_isolation_is_a_parameter_of_the_model():
    parameter = T["Parameters"]["EndpointNetworkIsolation"]
    assert (parameter["Default"], parameter["AllowedValues"]) == ("false", ["true", "false"])
    assert props("ScoringModel")["EnableNetworkIsolation"] == {
        "Fn::If": ["IsolateEndpointNetwork", True, False]
    }
    assert T["Conditions"]["IsolateEndpointNetwork"] == {
        "Fn::Equals": [{"Ref": "EndpointNetworkIsolation"}, "true"]
    }


def test_autoscaling_tracks_invocations_per_instance_between_min_and_max():
    target = props("ScoringEndpointScalableTarget")
    assert (target["MinCapacity"], target["MaxCapacity"]) == (
        {"Ref": "EndpointMinInstances"},
        {"Ref": "EndpointMaxInstances"},
    )
    config = props("ScoringEndpointScalingPolicy")["TargetTrackingScalingPolicyConfiguration"]
    assert (
        config["PredefinedMetricSpecification"]["PredefinedMetricType"]
        == "SageMakerVariantInvocationsPerInstance"
    )


def test_score_function_endpoint_name_follows_the_mode():
    name = props("ScoreCallFunction")["Environment"]["Variables"]["ENDPOINT_NAME"]
    assert name == {
        "Fn::If": [
            "CreateEndpoint",
            {"Fn::GetAtt": ["ScoringEndpoint", "EndpointName"]},
            {"Ref": "EndpointName"},
        ]
    }


# --- the code reads exactly what the template sets ------------------------------------------------


def _environment(function: str) -> dict[str, str]:
    merged = {
        **T["Globals"]["Function"]["Environment"]["Variables"],
        **props(function)["Environment"]["Variables"],
    }
    defaults = {name: str(p.get("Default", "")) for name, p in T["Parameters"].items()}

    def plain(value: Any) -> str:
        if isinstance(value, dict) and "Ref" in value:
            return defaults.get(value["Ref"], f"{value['Ref'].lower()}-name")
        if isinstance(value, dict):
            return "resolved-" + "-".join(re.findall(r"\w+", str(value)))[:40]
        return str(value)

    return {key: plain(value) for key, value in merged.items()}


def test_template_environment_satisfies_both_functions_settings():
    from score_call.config import load_settings as score_settings
    from start_transcription.config import load_settings as start_settings

    start = start_settings(_environment("StartTranscriptionFunction"))
    score = score_settings(_environment("ScoreCallFunction"))
    assert start.transcripts_prefix == "transcripts/" and start.recordings_prefix == "recordings/"
    assert (score.medium_risk_threshold, score.high_risk_threshold) == (0.11, 0.46)
    assert score.customer_channel == "ch_0" and score.customer_speaker == "spk_1"
