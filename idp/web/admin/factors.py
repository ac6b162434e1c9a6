"""/admin/api/v1: an account's second factors (see and reset) and an organization's second-factor policy."""

from __future__ import annotations

from typing import Any

from idp.accounts import notices, service
from idp.accounts.factors import policy
from idp.web.admin import schemas
from idp.web.admin.accounts import ACCOUNT_ID
from idp.web.admin.organizations import ORGANIZATION, find
from idp.web.admin.routing import Call, Operation

FACTORS = schemas.define("SecondFactors", schemas.obj({
    "totp": schemas.boolean("an authenticator app is set up"),
    "passkeys": {"type": "integer", "minimum": 0, "description": "registered passkeys"},
    "recovery_codes": {"type": "integer", "minimum": 0, "description": "unused recovery codes"},
}))
RESET = schemas.define("SecondFactorsReset", schemas.obj({
    "account_id": schemas.string(),
    "removed": FACTORS,
}, description="what the account had before the reset"))
ORGANIZATION_POLICY = schemas.define("SecondFactorPolicy", schemas.obj({
    "organization": schemas.string("the organization's slug"),
    "require_second_factor": schemas.boolean("members must sign in with a second factor; those without one "
                                             "enroll an authenticator app at their next sign-in"),
}))
ORGANIZATION_POLICY_INPUT = schemas.define("SecondFactorPolicyInput", schemas.obj({
    "require_second_factor": schemas.boolean(),
}))


def factors_json(factors: policy.Factors) -> dict[str, Any]:
    return {"totp": factors.totp, "passkeys": factors.passkeys, "recovery_codes": factors.recovery_codes}


def get_factors(call: Call) -> dict[str, Any]:
    user = service.get_user(call.db, call.path["account_id"])
    return factors_json(policy.factors_of(call.db, user.id))


def reset_factors(call: Call) -> dict[str, Any]:
    user = service.get_user(call.db, call.path["account_id"])
    had = policy.reset(call.db, user.id)
    if had.any or had.recovery_codes:
        call.c.activity.mfa_removed(call.db, user.id, "all", by="operator")
        notices.factor_changed(call.c.mail, call.db, user, "reset")
    return {"account_id": user.id, "removed": factors_json(had)}


def get_policy(call: Call) -> dict[str, Any]:
    org = find(call.db, call.path["organization"])
    return {"organization": org.slug, "require_second_factor": org.require_second_factor}


def put_policy(call: Call) -> dict[str, Any]:
    org = find(call.db, call.path["organization"])
    policy.set_organization_requirement(org, call.body["require_second_factor"])
    return {"organization": org.slug, "require_second_factor": org.require_second_factor}


OPERATIONS = [
    Operation("GET", "/accounts/{account_id}/factors", get_factors, "getSecondFactors", "An account's second factors",
              "accounts", FACTORS, parameters=(ACCOUNT_ID,)),
    Operation("POST", "/accounts/{account_id}/factors/reset", reset_factors, "resetSecondFactors",
              "Reset an account's second factors", "accounts", RESET, parameters=(ACCOUNT_ID,),
              description="Removes the authenticator app, the recovery codes and the passkeys, for a user who lost "
                          "them. The user then signs in with the password alone, or enrolls again if their "
                          "organization requires a second factor."),
    Operation("GET", "/organizations/{organization}/second-factor-policy", get_policy, "getSecondFactorPolicy",
              "An organization's second-factor policy", "organizations", ORGANIZATION_POLICY,
              parameters=(ORGANIZATION,)),
    Operation("PUT", "/organizations/{organization}/second-factor-policy", put_policy, "putSecondFactorPolicy",
              "Require a second factor of an organization's members (or not)", "organizations",
              ORGANIZATION_POLICY, body=ORGANIZATION_POLICY_INPUT, parameters=(ORGANIZATION,)),
]
