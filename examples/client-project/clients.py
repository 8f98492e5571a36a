"""Four small API clients, one per seed system, as a team would write them. Nothing here knows about mockidp."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import httpx


class TokenError(RuntimeError):
    """The provider refused to issue a token."""


@dataclass
class AvayaClient:
    """Avaya Experience Platform: client credentials at the account's realm, retried once on a 5xx."""

    base_url: str  # https://REGION.cc.avayacloud.com
    account_id: str
    client_id: str
    client_secret: str
    verify: Any = True
    clock: Callable[[], float] = time.time
    _token: tuple[str, float] | None = field(default=None, repr=False)

    def token(self) -> str:
        if self._token and self._token[1] > self.clock() + 30:
            return self._token[0]
        url = f"{self.base_url}/auth/realms/{self.account_id}/protocol/openid-connect/token"
        form = {"grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.client_secret}
        with httpx.Client(verify=self.verify) as http:
            response = http.post(url, data=form)
            if response.status_code >= 500:
                response = http.post(url, data=form)
        if response.status_code != 200:
            raise TokenError(f"{response.status_code}: {response.json().get('error_description')}")
        body = response.json()
        self._token = (body["access_token"], self.clock() + body["expires_in"])
        return body["access_token"]

    def get(self, path: str) -> httpx.Response:
        with httpx.Client(verify=self.verify) as http:
            return http.get(f"{self.base_url}/api{path}", headers={"authorization": f"Bearer {self.token()}"})


@dataclass
class FiveDegreesClient:
    """five°degrees public API behind Azure API Management, with an Entra ID client-credentials token (MSAL)."""

    authority: str  # https://login.microsoftonline.com/<tenant>
    client_id: str
    client_secret: str
    scope: str  # api://<api>/.default
    api_base: str  # the APIM URL of the API
    verify: Any = True

    def token(self) -> str:
        import msal
        import requests

        session = requests.Session()
        session.verify, session.trust_env = self.verify, False
        app = msal.ConfidentialClientApplication(self.client_id, client_credential=self.client_secret, authority=self.authority,
                                                 http_client=session, instance_discovery=False)
        result = app.acquire_token_for_client([self.scope])
        if "access_token" not in result:
            raise TokenError(f"{result.get('error')}: {result.get('error_codes')}")
        return result["access_token"]

    def send_command(self, path: str, command: dict[str, Any]) -> httpx.Response:
        with httpx.Client(verify=self.verify if not isinstance(self.verify, str) else _context(self.verify)) as http:
            return http.post(self.api_base + path, json=command, headers={"authorization": f"Bearer {self.token()}"})


@dataclass
class LumenClient:
    """Lumen APIs: a LIAM token (HTTP Basic, as Lumen's own client sends), then calls with the billing headers."""

    api_base: str  # https://api.lumen.com
    client_id: str
    client_secret: str
    customer_number: str
    verify: Any = True

    def token(self) -> str:
        with httpx.Client(verify=self.verify) as http:
            response = http.post(f"{self.api_base}/oauth/v2/token", data={"grant_type": "client_credentials"},
                                 auth=(self.client_id, self.client_secret), headers={"accept": "application/json"})
        if response.status_code != 200:
            raise TokenError(f"{response.status_code}: {response.json().get('code')}")
        return response.json()["access_token"]

    def bill(self, ban: str) -> httpx.Response:
        with httpx.Client(verify=self.verify) as http:
            return http.get(f"{self.api_base}/Billing/v1/customerBill", headers={
                "authorization": f"Bearer {self.token()}", "x-billing-account-number": ban, "x-customer-number": self.customer_number})


@dataclass
class SimSwapClient:
    """Open Gateway SIM Swap with the CIBA backend flow: bc-authorize, poll the token endpoint, call the API."""

    gateway: str  # https://sandbox.opengateway.telefonica.com
    client_id: str
    client_secret: str
    verify: Any = True
    sleep: Callable[[float], Any] = time.sleep

    def swapped(self, phone_number: str, max_age_hours: int = 240) -> bool:
        auth = (self.client_id, self.client_secret)
        with httpx.Client(base_url=self.gateway, verify=self.verify) as http:
            started = http.post("/apigateway/bc-authorize", auth=auth, data={
                "login_hint": f"tel:{phone_number}", "purpose": "dpv:FraudPreventionAndDetection#sim-swap"})
            if started.status_code != 200:
                raise TokenError(started.json()["error"])
            interval = started.json().get("interval", 5)
            while True:
                self.sleep(interval)
                polled = http.post("/apigateway/token", auth=auth, data={
                    "grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": started.json()["auth_req_id"]})
                error = polled.json().get("error") if polled.status_code != 200 else None
                if error == "slow_down":
                    interval += 5
                elif error != "authorization_pending":
                    break
            if error:
                raise TokenError(error)
            answer = http.post("/sim-swap/v0/check", json={"phoneNumber": phone_number, "maxAge": max_age_hours},
                               headers={"authorization": f"Bearer {polled.json()['access_token']}"})
            answer.raise_for_status()
            return bool(answer.json()["swapped"])


def _context(cafile: str) -> Any:
    import ssl

    return ssl.create_default_context(cafile=cafile)
