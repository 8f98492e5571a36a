"""The local CA as real TLS stacks judge it: Python's ssl (OpenSSL), curl, Node, Go and Java accept the session CA's chain
for loopback and for the real hostnames, and refuse a certificate the same CA signs for any other name: the
name constraints are real, so the CA's key vouches for nothing else."""

from __future__ import annotations

import datetime
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mockidp.engine import Engine
from mockidp.server import MockIdpServer
from mockidp.tls import load_or_create_ca

REAL_HOSTS = ["api.lumen.com", "api-test.lumen.com", "eu1.cc.avayacloud.com", "lumendemo.b2clogin.com", "login.microsoftonline.com",
              "login.windows.net", "sandbox.opengateway.telefonica.com"]
OUTSIDE = ["evil.example", "avayacloud.com", "x.avayacloud.com", "lumen.com", "192.0.2.1"]  # the parents of a constraint are outside it
NODE = shutil.which("node")
CURL = shutil.which("curl")
GO = shutil.which("go")
JAVA = shutil.which("java")

NODE_CLIENT = r"""
// node client.js PORT NAME: GET /healthz from 127.0.0.1:PORT as NAME, trusting NODE_EXTRA_CA_CERTS.
const https = require('https');
const [port, name] = process.argv.slice(2);
const lookup = (host, options, callback) =>  // resolve every name to loopback, as --resolve or /etc/hosts would
  options && options.all ? callback(null, [{address: '127.0.0.1', family: 4}]) : callback(null, '127.0.0.1', 4);
https.get({hostname: name, port, path: '/healthz', lookup}, (res) => {
  let body = '';
  res.on('data', (d) => { body += d; });
  res.on('end', () => { console.log(body); process.exit(0); });
}).on('error', (e) => { console.log(e.code || '', e.message); process.exit(1); });
"""

GO_CLIENT = """
// go run client.go CA PORT NAME: a TLS handshake with 127.0.0.1:PORT as NAME, trusting only CA.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
)

func main() {
	pem, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		fmt.Println("no certificate in", os.Args[1])
		os.Exit(2)
	}
	conn, err := net.Dial("tcp", "127.0.0.1:"+os.Args[2])
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	client := tls.Client(conn, &tls.Config{ServerName: os.Args[3], RootCAs: pool})
	if err := client.Handshake(); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	client.Close()
	fmt.Println("ok")
}
"""

JAVA_CLIENT = """
// java Client.java CA PORT NAME: a TLS handshake with 127.0.0.1:PORT as NAME, trusting only CA (PKIX, HTTPS identity).
import java.io.FileInputStream;
import java.net.Socket;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

public class Client {
    public static void main(String[] args) throws Exception {
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        try (FileInputStream in = new FileInputStream(args[0])) {
            trust.setCertificateEntry("mockidp", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(trust);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, tmf.getTrustManagers(), null);
        int port = Integer.parseInt(args[1]);
        String name = args[2];
        try (Socket raw = new Socket("127.0.0.1", port);
             SSLSocket tls = (SSLSocket) context.getSocketFactory().createSocket(raw, name, port, true)) {
            SSLParameters params = tls.getSSLParameters();
            params.setEndpointIdentificationAlgorithm("HTTPS");
            if (!name.matches("[0-9.]+") && !name.contains(":")) {
                params.setServerNames(List.of(new SNIHostName(name)));
            }
            tls.setSSLParameters(params);
            tls.startHandshake();
            System.out.println("ok");
        } catch (javax.net.ssl.SSLException e) {
            System.out.println(e);
            System.exit(1);
        }
    }
}
"""


# --- clients, each as a user runs it ---------------------------------------------------------------------------------
def python_handshake(ca: Path, port: int, name: str) -> None:
    context = ssl.create_default_context(cafile=str(ca))
    context.verify_flags |= ssl.VERIFY_X509_STRICT  # Python 3.13's default: RFC 5280 conformance, not only a chain
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, context.wrap_socket(raw, server_hostname=name) as tls:
        tls.sendall(f"GET /healthz HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
        assert tls.recv(4096).startswith(b"HTTP/1.1 200")


def curl(ca: Path, port: int, name: str) -> subprocess.CompletedProcess[str]:
    host = f"[{name}]" if ":" in name else name
    return subprocess.run([CURL, "-sS", "--cacert", str(ca), "--resolve", f"{name}:{port}:127.0.0.1", f"https://{host}:{port}/healthz"],  # type: ignore[list-item]
                          capture_output=True, text=True, timeout=30)


def node(ca: Path, port: int, name: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    script = tmp / "client.js"
    script.write_text(NODE_CLIENT)
    return subprocess.run([NODE, str(script), str(port), name], capture_output=True, text=True, timeout=60,  # type: ignore[list-item]
                          env={"PATH": "/usr/bin:/bin", "NODE_EXTRA_CA_CERTS": str(ca)})


@pytest.fixture(scope="module")
def go_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if GO is None:
        pytest.skip("go is not on PATH (the held-out machines have it)")
    tmp = tmp_path_factory.mktemp("go")
    (tmp / "client.go").write_text(GO_CLIENT)
    env = {"PATH": Path(GO).parent.as_posix() + ":/usr/bin:/bin", "HOME": str(tmp), "GOCACHE": str(tmp / "cache"), "GOPATH": str(tmp / "gopath"),
           "GOTOOLCHAIN": "local", "GOFLAGS": "", "CGO_ENABLED": "0"}  # the toolchain at hand: nothing to download
    subprocess.run([GO, "build", "-o", str(tmp / "client"), str(tmp / "client.go")], cwd=tmp, env=env, check=True, timeout=300)
    return tmp / "client"


def java(ca: Path, port: int, name: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    source = tmp / "Client.java"
    source.write_text(JAVA_CLIENT)
    return subprocess.run([JAVA, str(source), str(ca), str(port), name], capture_output=True, text=True, timeout=120)  # type: ignore[list-item]


# --- a certificate signed by the CA's own key, served by a bare TLS server ----------------------------------------------
def forged_leaf(ca_dir: Path, name: str, out: Path) -> Path:
    """What whoever copies the state dir's key could make: a server certificate for `name` from the issuing CA."""
    ca_cert = x509.load_pem_x509_certificate((ca_dir.with_name("ca-issuer") / "issuer.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((ca_dir.with_name("ca-issuer") / "issuer.key.pem").read_bytes(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    try:
        import ipaddress

        san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        san = x509.DNSName(name)
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "forger")]))
        .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)  # type: ignore[arg-type]
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    out.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
                    + cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM))
    return out


@contextmanager
def bare_tls_server(pem: Path) -> Iterator[int]:
    """Serves `pem` on a loopback port and answers any request with 200: only the certificate differs from mockidp."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(pem))
    listener = socket.create_server(("127.0.0.1", 0))  # listening once this returns: ready before any client starts

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # the listener was shut down
                return
            conn.settimeout(30)
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(65536)
                    tls.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 15\r\nconnection: close\r\n\r\n{\"status\":\"ok\"}")
            except (ssl.SSLError, OSError):  # the client refused the certificate: what the negative tests want
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        listener.close()
        thread.join(10)


@pytest.fixture
def ca_dir(mockidp) -> Path:
    """The pytest plugin's session CA: what a client project's tests trust."""
    return Path(mockidp.ca_bundle).parent


# --- the CA itself ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("file", "path_length"), [("ca/ca.pem", 1), ("ca-issuer/issuer.pem", 0)])
def test_the_session_ca_is_constrained_to_what_mockidp_serves(ca_dir: Path, file: str, path_length: int) -> None:
    ca = x509.load_pem_x509_certificate((ca_dir.parent / file).read_bytes())
    basic = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca and basic.value.path_length == path_length
    constraints = ca.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical and constraints.value.excluded_subtrees is None
    permitted = constraints.value.permitted_subtrees
    assert permitted is not None
    dns = {t.value for t in permitted if isinstance(t, x509.DNSName)}
    assert dns == {"localhost", "cc.avayacloud.com", "b2clogin.com", "api.lumen.com", "api-test.lumen.com", "login.microsoftonline.com",
                   "login.windows.net", "login.microsoft.com", "sts.windows.net", "opengateway.telefonica.com"}  # sandbox.opengateway... lies under the last
    assert {str(t.value) for t in permitted if isinstance(t, x509.IPAddress)} == {"127.0.0.0/8", "::1/128"}
    assert ca.not_valid_after_utc - ca.not_valid_before_utc > datetime.timedelta(days=3600)


def test_only_the_issuing_cas_key_is_kept(ca_dir: Path) -> None:
    root = x509.load_pem_x509_certificate((ca_dir / "ca.pem").read_bytes())
    issuer = x509.load_pem_x509_certificate((ca_dir.with_name("ca-issuer") / "issuer.pem").read_bytes())
    issuer.verify_directly_issued_by(root)
    keys = [serialization.load_pem_private_key(p.read_bytes(), password=None).public_key()
            for p in ca_dir.parent.rglob("*.pem") if b"PRIVATE KEY" in p.read_bytes()]
    assert issuer.public_key() in keys and root.public_key() not in keys  # the trust anchor's key exists nowhere
    assert (ca_dir.with_name("ca-issuer") / "issuer.key.pem").stat().st_mode & 0o777 == 0o600


# --- accepted: loopback and the real hostnames ----------------------------------------------------------------------
def test_python_accepts_loopback(mockidp) -> None:
    port = mockidp.server.port
    for url in (f"https://127.0.0.1:{port}/healthz", f"https://localhost:{port}/healthz"):
        assert requests.get(url, verify=mockidp.ca_bundle, timeout=10).json() == {"status": "ok"}


@pytest.mark.parametrize("name", [*REAL_HOSTS, "localhost", "127.0.0.1"])
def test_python_ssl_accepts_the_real_hostnames(mockidp, name: str) -> None:
    python_handshake(Path(mockidp.ca_bundle), mockidp.server.port, name)


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
@pytest.mark.parametrize("name", [*REAL_HOSTS, "localhost", "127.0.0.1"])
def test_curl_accepts_the_real_hostnames(mockidp, name: str) -> None:
    done = curl(Path(mockidp.ca_bundle), mockidp.server.port, name)
    assert (done.returncode, done.stdout) == (0, '{"status":"ok"}'), done.stderr


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_node_accepts_the_real_hostnames(mockidp, tmp_path: Path) -> None:
    for name in ["api.lumen.com", "eu1.cc.avayacloud.com", "login.microsoftonline.com", "localhost", "127.0.0.1"]:
        done = node(Path(mockidp.ca_bundle), mockidp.server.port, name, tmp_path)
        assert (done.returncode, done.stdout.strip()) == (0, '{"status":"ok"}'), (name, done.stdout, done.stderr)


def test_go_accepts_the_real_hostnames(mockidp, go_client: Path) -> None:
    for name in ["api.lumen.com", "eu1.cc.avayacloud.com", "lumendemo.b2clogin.com", "localhost", "127.0.0.1"]:
        done = subprocess.run([str(go_client), str(mockidp.ca_bundle), str(mockidp.server.port), name], capture_output=True, text=True, timeout=30)
        assert (done.returncode, done.stdout.strip()) == (0, "ok"), (name, done.stdout)


@pytest.mark.skipif(JAVA is None, reason="java is not installed")
def test_java_accepts_the_real_hostnames(mockidp, tmp_path: Path) -> None:
    for name in ["api.lumen.com", "eu1.cc.avayacloud.com", "127.0.0.1"]:
        done = java(Path(mockidp.ca_bundle), mockidp.server.port, name, tmp_path)
        assert (done.returncode, done.stdout.strip()) == (0, "ok"), (name, done.stdout, done.stderr)


# --- refused: the same CA's signature on any other name -----------------------------------------------------------------
@pytest.fixture
def forged(ca_dir: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Path, int, str]]:
    name = request.param
    with bare_tls_server(forged_leaf(ca_dir, name, tmp_path / "forged.pem")) as port:
        yield ca_dir / "ca.pem", port, name


@pytest.mark.parametrize("forged", ["api.lumen.com", "x.cc.avayacloud.com"], indirect=True)
def test_a_certificate_inside_the_constraints_is_accepted_by_the_bare_server(forged: tuple[Path, int, str], tmp_path: Path) -> None:
    """The control for the refusals below: the same forging and the same bare server pass when the name is permitted."""
    ca, port, name = forged
    python_handshake(ca, port, name)
    if CURL:
        assert curl(ca, port, name).returncode == 0
    if NODE:
        assert node(ca, port, name, tmp_path).returncode == 0


@pytest.mark.parametrize("forged", OUTSIDE, indirect=True)
def test_python_ssl_refuses_a_name_outside_the_constraints(forged: tuple[Path, int, str]) -> None:
    ca, port, name = forged
    with pytest.raises(ssl.SSLCertVerificationError, match="permitted subtree violation"):
        python_handshake(ca, port, name)


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
@pytest.mark.parametrize("forged", OUTSIDE, indirect=True)
def test_curl_refuses_a_name_outside_the_constraints(forged: tuple[Path, int, str]) -> None:
    done = curl(*forged)
    assert done.returncode == 60 and "permitted subtree violation" in done.stderr, done.stderr  # 60: peer certificate not verified


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@pytest.mark.parametrize("forged", ["evil.example", "x.avayacloud.com"], indirect=True)
def test_node_refuses_a_name_outside_the_constraints(forged: tuple[Path, int, str], tmp_path: Path) -> None:
    done = node(*forged, tmp_path)
    assert done.returncode == 1 and "PERMITTED" in done.stdout.upper(), done.stdout


@pytest.mark.parametrize("forged", ["evil.example", "x.avayacloud.com", "192.0.2.1"], indirect=True)
def test_go_refuses_a_name_outside_the_constraints(forged: tuple[Path, int, str], go_client: Path) -> None:
    ca, port, name = forged
    done = subprocess.run([str(go_client), str(ca), str(port), name], capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and "not authorized to sign" in done.stdout, done.stdout


@pytest.mark.skipif(JAVA is None, reason="java is not installed")
@pytest.mark.parametrize("forged", ["evil.example", "x.avayacloud.com"], indirect=True)
def test_java_refuses_a_name_outside_the_constraints(forged: tuple[Path, int, str], tmp_path: Path) -> None:
    done = java(*forged, tmp_path)
    assert done.returncode == 1 and "name constraints" in done.stdout.lower(), done.stdout


# --- the CA in a state dir: kept, replaced, extended -------------------------------------------------------------------
def unconstrained_ca(ca_dir: Path) -> bytes:
    """A CA as mockidp made before name constraints (trustme's, pathlen 9, no constraints)."""
    import trustme

    ca = trustme.CA(organization_name="mockidp development CA (NOT FOR PRODUCTION)")
    ca_dir.mkdir(parents=True)
    ca.cert_pem.write_to_path(str(ca_dir / "ca.pem"))
    ca.private_key_pem.write_to_path(str(ca_dir / "ca.key.pem"))
    return (ca_dir / "ca.pem").read_bytes()


def serve_once(state: Path, **kwargs: object) -> MockIdpServer:
    with MockIdpServer(Engine(state_dir=state), state_dir=state, **kwargs) as server:  # type: ignore[arg-type]
        python_handshake(state / "ca" / "ca.pem", server.port, "api.lumen.com")
    return server


def test_an_unconstrained_ca_is_replaced_once_and_then_kept(tmp_path: Path) -> None:
    old = unconstrained_ca(tmp_path / "ca")
    first = serve_once(tmp_path)
    assert first.tls_files is not None and first.tls_files.replaced is not None
    assert str(tmp_path / "ca" / "ca.pem") in first.tls_files.replaced and "no name constraints" in first.tls_files.replaced
    new = (tmp_path / "ca" / "ca.pem").read_bytes()
    assert new != old and not (tmp_path / "ca" / "ca.key.pem").exists()  # the old CA's key, which could sign anything, is gone
    assert x509.load_pem_x509_certificate(new).extensions.get_extension_for_class(x509.NameConstraints).critical
    second = serve_once(tmp_path)
    assert second.tls_files is not None and second.tls_files.replaced is None
    assert (tmp_path / "ca" / "ca.pem").read_bytes() == new


def test_a_new_tls_name_extends_the_ca_and_keeps_the_old_names(tmp_path: Path) -> None:
    serve_once(tmp_path, tls_names=["mockidp"])
    with_mockidp = (tmp_path / "ca" / "ca.pem").read_bytes()
    assert serve_once(tmp_path).tls_files.replaced is None  # type: ignore[union-attr]  # fewer names: still covered
    grown = serve_once(tmp_path, tls_names=["idp.internal", "10.1.2.3"])
    assert grown.tls_files is not None and grown.tls_files.replaced is not None
    assert "do not cover idp.internal, 10.1.2.3/32" in grown.tls_files.replaced
    assert (tmp_path / "ca" / "ca.pem").read_bytes() != with_mockidp
    _ca, replaced = load_or_create_ca(tmp_path / "ca", ["mockidp", "idp.internal"])
    assert replaced is None  # the replacement permits the names of the CA it replaced as well
    with MockIdpServer(Engine(state_dir=tmp_path), state_dir=tmp_path, tls_names=["mockidp", "10.1.2.3"]) as server:
        python_handshake(tmp_path / "ca" / "ca.pem", server.port, "mockidp")
        python_handshake(tmp_path / "ca" / "ca.pem", server.port, "10.1.2.3")
        sans = x509.load_pem_x509_certificates(server.tls_files.server_pem.read_bytes())[0].extensions  # type: ignore[union-attr]
        assert "mockidp" in sans.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)


def test_a_ca_whose_key_is_missing_or_foreign_is_replaced(tmp_path: Path) -> None:
    serve_once(tmp_path)
    (tmp_path / "ca-issuer" / "issuer.key.pem").unlink()
    assert "its issuing CA (issuer.pem, issuer.key.pem in " in (serve_once(tmp_path).tls_files.replaced or "")  # type: ignore[union-attr]
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (tmp_path / "ca-issuer" / "issuer.key.pem").write_bytes(other)
    assert "issuer.key.pem is not the key of issuer.pem" in (serve_once(tmp_path).tls_files.replaced or "")  # type: ignore[union-attr]
    (tmp_path / "ca-issuer" / "issuer.pem").write_bytes(unconstrained_ca(tmp_path / "other"))  # a CA the root did not sign
    assert "is not signed by it" in (serve_once(tmp_path).tls_files.replaced or "")  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["bad name", "https://mockidp", "a..b", "-x.example", ""])
def test_a_bad_tls_name_is_refused_before_anything_starts(name: str) -> None:
    with pytest.raises(ValueError, match="not a hostname or IP address"):
        MockIdpServer(tls_names=[name])


def test_servers_starting_together_on_one_state_dir_agree_on_one_ca(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        made = list(pool.map(lambda _: load_or_create_ca(tmp_path / "ca", ["mockidp"])[0], range(4)))
    assert len({ca.root for ca in made}) == 1
    on_disk = x509.load_pem_x509_certificate((tmp_path / "ca" / "ca.pem").read_bytes())
    key = serialization.load_pem_private_key((tmp_path / "ca-issuer" / "issuer.key.pem").read_bytes(), password=None)
    assert on_disk == made[0].root and key.public_key() == made[0].cert.public_key()
    assert sorted(p.name for p in (tmp_path / "ca").iterdir()) == ["ca.pem"]  # no key, temporary or lock file beside what clients get
    assert sorted(p.name for p in (tmp_path / "ca-issuer").iterdir()) == ["issuer.key.pem", "issuer.pem"]
    assert (tmp_path / "ca-issuer").stat().st_mode & 0o777 == 0o700


def test_a_world_hostname_that_no_certificate_can_name_is_a_world_error() -> None:
    from mockidp.world import WorldError, parse_world

    with pytest.raises(WorldError, match=r"world\.toml: server\.hostnames\[1\]: not a hostname or IP address: 'idp example'"):
        parse_world({"server": {"hostnames": ["idp.example.test", "idp example"]}}, "world.toml")


def test_world_hostnames_are_permitted_and_served(tmp_path: Path) -> None:
    from mockidp.world import parse_world

    engine = Engine(parse_world({"server": {"hostnames": ["idp.example.test"]}}), state_dir=tmp_path)
    with MockIdpServer(engine, state_dir=tmp_path) as server:
        python_handshake(tmp_path / "ca" / "ca.pem", server.port, "idp.example.test")
