"""The profile loader's column check: misspelled columns are named, a file of none is refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from churn_local import profiles
from churn_local.aws import LocalAws, client


@pytest.fixture(scope="module")
def local_aws() -> Iterator[LocalAws]:
    with LocalAws() as aws:
        client("dynamodb", aws.url, "us-east-1").create_table(
            TableName="profiles",
            KeySchema=[{"AttributeName": "customer_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "customer_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield aws


def load(aws: LocalAws, path: Path) -> int:
    return profiles.main([str(path), "--endpoint-url", aws.url, "--table", "profiles"])


def count(aws: LocalAws) -> int:
    return client("dynamodb", aws.url, "us-east-1").scan(TableName="profiles", Select="COUNT")["Count"]


def test_a_misspelled_column_is_warned_about_with_its_likely_name(local_aws, tmp_path, capsys):
    path = tmp_path / "p.csv"
    path.write_text("customer_id,Custserv Calls,Day Mins,Colour,text\nc1,4,120.5,red,hello\n")
    before = count(local_aws)

    assert load(local_aws, path) == 0

    err = capsys.readouterr().err
    assert "ignoring unknown column(s): 'Custserv Calls' (did you mean 'CustServ Calls'?), 'Colour'" in err
    assert "'text'" not in err  # a training column, known and left out on purpose
    assert count(local_aws) == before + 1


def test_a_file_with_no_profile_feature_is_refused_and_nothing_is_written(local_aws, tmp_path, capsys):
    path = tmp_path / "p.csv"
    path.write_text("customer_id,Custserv Calls,Acount Length\nc-none-1,4,10\nc-none-2,1,20\n")
    before = count(local_aws)

    assert load(local_aws, path) == 2

    err = capsys.readouterr().err
    assert "none of the columns is a profile feature" in err and "nothing was loaded" in err
    assert "Traceback" not in err
    assert count(local_aws) == before


def test_json_lines_are_checked_on_the_first_object_and_new_keys_later(local_aws, tmp_path, capsys):
    refused = tmp_path / "none.jsonl"
    refused.write_text(json.dumps({"customer_id": "x", "Plan": "A"}) + "\n")
    assert load(local_aws, refused) == 2
    assert "did you mean 'plan'?" not in capsys.readouterr().err  # refused outright: no feature at all

    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(
        json.dumps({"customer_id": "j1", "plan": "A"})
        + "\n"
        + json.dumps({"customer_id": "j2", "Plan": "B"})
        + "\n"
    )
    assert load(local_aws, mixed) == 0
    assert "line 2): ignoring unknown key(s): 'Plan' (did you mean 'plan'?)" in capsys.readouterr().err
