"""`mockidp.trust(monkeypatch)`: a client that reads its CA bundle from the environment (requests without verify=,
curl, OpenSSL's defaults) trusts mockidp for one test, even where CI had set REQUESTS_CA_BUNDLE elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

import certifi
import pytest

USER_TESTS = '''
import os
import shutil
import ssl
import subprocess
import urllib.request

import certifi
import pytest
import requests
from cryptography import x509

ELSEWHERE = certifi.where()


def test_trust_wins_over_the_environment(mockidp, monkeypatch):
    assert os.environ["REQUESTS_CA_BUNDLE"] == ELSEWHERE
    with pytest.raises(requests.exceptions.SSLError):  # REQUESTS_CA_BUNDLE, not mockidp's CA, is what requests trusts
        requests.get(mockidp.url + "/healthz", timeout=10)
    bundle = mockidp.trust(monkeypatch)
    assert os.environ["REQUESTS_CA_BUNDLE"] == os.environ["SSL_CERT_FILE"] == os.environ["CURL_CA_BUNDLE"] == str(bundle)
    assert requests.get(mockidp.url + "/healthz", timeout=10).json() == {"status": "ok"}
    # OpenSSL's defaults follow SSL_CERT_FILE: the standard library's urllib with no context of its own.
    with urllib.request.urlopen(mockidp.url + "/healthz", context=ssl.create_default_context(), timeout=10) as response:
        assert response.status == 200
    if shutil.which("curl"):  # curl reads CURL_CA_BUNDLE
        assert subprocess.run(["curl", "-sS", mockidp.url + "/healthz"], capture_output=True, text=True).stdout == '{"status":"ok"}'
    # The system's CAs stay trusted: every certificate certifi holds is in the bundle, beside mockidp's.
    held = set(x509.load_pem_x509_certificates(bundle.read_bytes()))
    assert set(x509.load_pem_x509_certificates(open(ELSEWHERE, "rb").read())) <= held
    assert x509.load_pem_x509_certificate(open(mockidp.ca_bundle, "rb").read()) in held


def test_the_environment_is_back_in_the_next_test(mockidp):
    assert os.environ["REQUESTS_CA_BUNDLE"] == ELSEWHERE
    assert "SSL_CERT_FILE" not in os.environ and "CURL_CA_BUNDLE" not in os.environ
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(mockidp.url + "/healthz", timeout=10)
'''


def test_trust_makes_environment_clients_trust_mockidp_for_one_test(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())  # as many CI images do
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    result.assert_outcomes(passed=2)
    assert os.environ["REQUESTS_CA_BUNDLE"] == certifi.where() and "SSL_CERT_FILE" not in os.environ


def test_trust_without_tls_says_there_is_nothing_to_trust(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('''
import pytest

@pytest.fixture(scope="session")
def mockidp_tls():
    return False
''')
    pytester.makepyfile('''
import pytest

def test_plain_http(mockidp, monkeypatch):
    with pytest.raises(RuntimeError, match="plain HTTP"):
        mockidp.trust(monkeypatch)
''')
    pytester.runpytest_inprocess("-p", "no:randomly").assert_outcomes(passed=1)


def test_the_bundle_falls_back_to_openssl_without_certifi(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import ssl
    import sys

    from mockidp.tls import system_ca_pem

    monkeypatch.setitem(sys.modules, "certifi", None)  # `import certifi` now fails: a project without requests
    system = ssl.get_default_verify_paths().cafile
    if not system or not Path(system).is_file():
        pytest.skip("this machine's OpenSSL has no CA file")
    assert system_ca_pem() == Path(system).read_bytes()
