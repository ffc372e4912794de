"""Issue 21 §4: the endpoint's optional data capture. Off by default; on, it writes to the stack's
own bucket under data-capture/ (the data key when there is one), the model's role may write only
there, the captures expire like transcripts, and a serverless endpoint refuses it before deploying."""

from __future__ import annotations

import re

from churn_ops.template_rules import ParameterError, check_parameters, load_template

from tests.unit.test_template_iam import load_template as load_resolved

T = load_resolved()
R = T["Resources"]
RAW = load_template("template.yaml")
MODEL = "s3://my-models/churn/model.tar.gz"


def _capture() -> dict:
    config = R["ScoringEndpointConfig"]["Properties"]["DataCaptureConfig"]
    condition, on, off = config["Fn::If"]
    assert condition == "CaptureEndpointData" and off == {"Ref": "AWS::NoValue"}
    return on


def test_capture_is_off_by_default_and_only_for_real_time_endpoints():
    parameter = T["Parameters"]["EndpointDataCapturePercent"]
    assert (parameter["Type"], parameter["Default"]) == ("String", "0")
    pattern = re.compile(parameter["AllowedPattern"])
    assert all(pattern.fullmatch(str(n)) for n in range(101))
    assert not any(pattern.fullmatch(v) for v in ("101", "-1", "05", "2.5", ""))
    condition = T["Conditions"]["CaptureEndpointData"]["Fn::And"]
    assert {"Condition": "RealTimeEndpoint"} in condition
    assert {"Fn::Not": [{"Fn::Equals": [{"Ref": "EndpointDataCapturePercent"}, "0"]}]} in condition


def test_captures_go_to_the_stack_bucket_under_its_key_and_expire_with_the_transcripts():
    on = _capture()
    assert on["EnableCapture"] is True
    assert on["InitialSamplingPercentage"] == {"Ref": "EndpointDataCapturePercent"}
    assert on["DestinationS3Uri"] == {"Fn::Sub": "s3://${RecordingsBucket}/data-capture"}
    assert on["KmsKeyId"] == {"Fn::If": ["HasDataKmsKey", {"Ref": "DataKmsKeyArn"}, {"Ref": "AWS::NoValue"}]}
    assert {o["CaptureMode"] for o in on["CaptureOptions"]} == {"Input", "Output"}
    rules = R["RecordingsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    (expiry,) = [r for r in rules if r.get("Prefix") == "data-capture/"]
    assert expiry["ExpirationInDays"] == {"Ref": "RecordingRetentionDays"}
    # The model's role writes there and nowhere else new; the data key reaches it through S3.
    policy = R["ScoringModelDataCapturePolicy"]
    assert policy["Condition"] == "CaptureEndpointData"
    assert policy["Properties"]["Roles"] == [{"Ref": "ScoringModelRole"}]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert (statement["Effect"], statement["Action"]) == ("Allow", "s3:PutObject")
    assert statement["Resource"] == {"Fn::Sub": "${RecordingsBucket.Arn}/data-capture/*"}
    roles = R["DataKeyPolicy"]["Properties"]["Roles"]
    assert {"Fn::If": ["CreateEndpoint", {"Ref": "ScoringModelRole"}, {"Ref": "AWS::NoValue"}]} in roles


def test_a_serverless_endpoint_with_capture_is_refused_before_deploying():
    try:
        check_parameters(
            RAW, {"ModelDataUrl": MODEL, "EndpointMode": "serverless", "EndpointDataCapturePercent": "20"}
        )
    except ParameterError as exc:
        assert "ServerlessEndpointWithoutDataCapture" in str(exc)
    else:
        raise AssertionError("serverless with data capture passed the rules")
    check_parameters(RAW, {"ModelDataUrl": MODEL, "EndpointMode": "serverless"})
    check_parameters(RAW, {"ModelDataUrl": MODEL, "EndpointMode": "cpu", "EndpointDataCapturePercent": "20"})
