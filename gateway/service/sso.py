"""The SSO launch: where the auth_token Xoxoday echoes back in every call is born.

The company's portal (or its authenticating proxy) names an employee; we look the profile up,
sign our auth_token for their unique_id, and ask Xoxoday for an SSO token carrying both in the
`tpd` object, whose storefront URL the user is sent to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.base import IdentityField, ProfileSource
from gateway.auth import TokenAuthority
from gateway.errors import UserNotFound
from gateway.xoxoday.client import XoxodayApi


@dataclass(frozen=True)
class Launch:
    redirect_url: str
    unique_id: str


class SsoService:
    def __init__(
        self,
        profiles: ProfileSource,
        tokens: TokenAuthority,
        xoxoday: XoxodayApi,
        options: dict[str, Any],
        identity: IdentityField = "employee_id",
    ) -> None:
        self.profiles = profiles
        self.tokens = tokens
        self.xoxoday = xoxoday
        self.options = options
        self.identity = identity

    def launch(self, by: IdentityField, value: str) -> Launch:
        profile = self.profiles.find(by, value.strip())
        if profile is None or not profile.active:
            raise UserNotFound(f"no active employee with {by} {value!r}")
        unique_id = str(getattr(profile, self.identity))
        if not unique_id:
            raise UserNotFound(f"the employee has no {self.identity}, which identifies users")
        tpd: dict[str, Any] = {
            "auth_token": self.tokens.issue(unique_id),
            "unique_id": unique_id,
            "otp": self.options["otp"],
        }
        if profile.email:
            tpd["email"] = {"default_value": profile.email, **self.options["email"]}
        if profile.mobile:
            tpd["phone"] = {"default_value": profile.mobile, **self.options["phone"]}
        user_input = profile.email or profile.mobile or unique_id
        sso_token = self.xoxoday.sso_token(user_input, tpd)
        return Launch(self.xoxoday.redirect_url(sso_token), unique_id)
