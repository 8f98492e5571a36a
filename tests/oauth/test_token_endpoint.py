"""The token-endpoint skeleton on its own: the vendor's order of checks, dispatch on grant_type, the reply."""

from collections.abc import Sequence

import pytest

from mockidp.errors import OAuthError
from mockidp.oauth.token_endpoint import NO_STORE, Step, TokenEndpoint, token_reply
from mockidp.request import Reply, Request


class Errors:
    def duplicated(self, names: Sequence[str]) -> OAuthError:
        return OAuthError("invalid_request", "dup " + ",".join(names))

    def missing_grant_type(self) -> OAuthError:
        return OAuthError("invalid_request", "no grant_type")

    def unsupported_grant_type(self, grant_type: str) -> OAuthError:
        return OAuthError("unsupported_grant_type", grant_type)


def authenticate(issuer: str, req: Request, grant_type: str) -> str:
    if req.param("client_id") != "good":
        raise OAuthError("invalid_client", "bad client", 401)
    return "good"


def endpoint(order: tuple[Step, ...]) -> TokenEndpoint[str, str]:
    def cc(issuer: str, client: str, req: Request) -> Reply:
        return token_reply({"access_token": f"{issuer}:{client}"}, issued=[f"{issuer}:{client}"])

    return TokenEndpoint(issuer_of=lambda req: req.path_params["realm"], grants={"client_credentials": cc},
                         authenticate=authenticate, errors=Errors(), order=order)


def request(form: dict[str, str], duplicates: set[str] | None = None) -> Request:
    return Request("POST", "/token", "https://x", form=form, duplicates=duplicates or set(), path_params={"realm": "r"})


def test_dispatches_on_grant_type_and_replies_no_store() -> None:
    reply = endpoint(("duplicates", "grant_type", "client"))(request({"grant_type": "client_credentials", "client_id": "good"}))
    assert reply.json == {"access_token": "r:good"} and reply.headers == NO_STORE and reply.issued == ["r:good"]


@pytest.mark.parametrize(
    ("order", "first_error"),
    [
        (("duplicates", "grant_type", "client"), "dup client_id"),
        (("grant_type", "client", "duplicates"), "unsupported_grant_type"),  # Keycloak's order
        (("client", "duplicates", "grant_type"), "invalid_client"),
    ],
)
def test_the_vendors_order_decides_which_error_comes_first(order: tuple[Step, ...], first_error: str) -> None:
    bad = request({"grant_type": "password", "client_id": "evil"}, duplicates={"client_id"})
    with pytest.raises(OAuthError) as caught:
        endpoint(order)(bad)
    assert first_error in (caught.value.error, caught.value.description)


def test_missing_grant_type_is_the_vendors_error() -> None:
    with pytest.raises(OAuthError, match="no grant_type"):
        endpoint(("grant_type", "client"))(request({"client_id": "good"}))
