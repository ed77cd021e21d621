"""``make deploy EXISTING_DATA=true``: the accounts' user pool a deleted stack kept is taken over
too. A pool has no unique name (CloudFormation cannot adopt it by one), so ``infra.deploy`` finds
it by the name the stack gave it and passes its id as ``ExistingUserPoolId``, and refuses when
that is not one pool; on moto's Cognito in process."""

from __future__ import annotations

import pytest

from infra import deploy


def _pool(aws, name: str) -> str:
    return aws.client("cognito-idp").create_user_pool(PoolName=name)["UserPool"]["Id"]


def test_the_kept_pool_is_found_by_the_stages_name(aws):
    _pool(aws, "licensing-staging-accounts")
    kept = _pool(aws, "licensing-prod-accounts")
    said = []

    assert deploy.kept_user_pool(aws.client("cognito-idp"), "prod", said.append) == kept
    assert said == [f"taking over the user pool {kept} (licensing-prod-accounts)"]


@pytest.mark.parametrize("pools", [0, 2])
def test_none_or_several_pools_of_that_name_are_refused_naming_the_parameter(aws, pools):
    found = [_pool(aws, "licensing-prod-accounts") for _ in range(pools)]

    with pytest.raises(deploy.DeployError, match="EXISTING_USER_POOL_ID") as refused:
        deploy.kept_user_pool(aws.client("cognito-idp"), "prod")
    for pool_id in found:
        assert pool_id in str(refused.value)


def test_the_make_variables_reach_the_accounts_parameters(packaged):
    import json

    parameters = json.loads((packaged / "sam.json").read_text())["Parameters"]
    for variable in ("EXISTING_USER_POOL_ID", "ADVANCED_SECURITY", "SES_IDENTITY_ARN", "EMAIL_FROM"):
        assert deploy.VARIABLES[variable] in parameters, variable
