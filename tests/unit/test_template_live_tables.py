"""template.yaml: the LiveCalls tables are working state, deleted with the stack; every other table is
data, retained (see the comments on LiveContactsTable and AgentConnectionsTable for why)."""

from __future__ import annotations

from tests.unit.test_template_iam import load_template

R = load_template()["Resources"]
LIVE_STATE = ("LiveContactsTable", "AgentConnectionsTable")


def test_live_tables_are_ttl_state_deleted_with_the_stack_and_data_tables_are_retained():
    tables = [lid for lid, resource in R.items() if resource["Type"] == "AWS::DynamoDB::Table"]
    assert set(LIVE_STATE) < set(tables)
    for logical_id in tables:
        resource = R[logical_id]
        if logical_id in LIVE_STATE:
            assert resource["Condition"] == "LiveCallsOn"
            assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Delete", "Delete")
            # Short-lived by construction: items expire; nothing to recover to a point in time.
            assert resource["Properties"]["TimeToLiveSpecification"]["Enabled"] is True
            assert "PointInTimeRecoverySpecification" not in resource["Properties"]
        else:
            assert resource["DeletionPolicy"] == "RetainExceptOnCreate", logical_id
            assert resource["UpdateReplacePolicy"] == "Retain", logical_id
