"""URL mode: {"url": ...} fetched safely from loopback servers started here.

The lab setting (DFD_ALLOW_PRIVATE_URLS) is on for the success paths, which
fetch from 127.0.0.1; the SSRF cases run with it off and are refused before
any connection is made.
"""

from __future__ import annotations

import ipaddress
import shutil
import ssl
import subprocess

import pytest
from harness.servers import LAB_HOST, PORTRAIT, PORTRAIT_FACE_CENTRE, ImageServer, box_contains, serve

from backend import fetch

SCORE = "/api/v1/score"


def score_url(client, url: str):
    return client.post(SCORE, json={"url": url})


@pytest.fixture(scope="module")
def lab_client(make_app):
    return make_app(ALLOW_PRIVATE_URLS=True).test_client()


@pytest.mark.parametrize("path", ["/portrait.jpg", "/octet", "/redirect-relative"])
def test_lab_install_scores_an_image_url(lab_client, lab_server, path):
    response = score_url(lab_client, lab_server.base + path)
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["image"] == {"width": 512, "height": 600}
    assert box_contains(body["faces"][0]["box"], PORTRAIT_FACE_CENTRE)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://127.0.0.1:{port}/portrait.jpg", "127.0.0.1"),
        ("http://localhost:{port}/portrait.jpg", "localhost"),
        ("http://2130706433:{port}/portrait.jpg", "2130706433"),  # 127.0.0.1 written as one number
        ("http://[::1]:{port}/portrait.jpg", "::1"),
        ("http://[::ffff:127.0.0.1]:{port}/portrait.jpg", "::ffff:127.0.0.1"),
        ("http://0.0.0.0:{port}/portrait.jpg", "0.0.0.0"),
        ("http://10.1.2.3/photo.jpg", "10.1.2.3"),
        ("http://172.16.5.4/photo.jpg", "172.16.5.4"),
        ("https://192.168.1.20/photo.jpg", "192.168.1.20"),
        ("http://100.64.0.7/photo.jpg", "100.64.0.7"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "fd00:ec2::254"),
        ("http://[fe80::1]/photo.jpg", "fe80::1"),
        ("http://[2002:7f00:1::]/photo.jpg", "2002:7f00:1::"),  # 6to4 wrapping 127.0.0.1
    ],
)
def test_private_and_local_addresses_are_refused(make_app, lab_server, url, host):
    client = make_app().test_client()
    before = len(lab_server.hosts_seen)
    response = score_url(client, url.format(port=lab_server.server_address[1]))
    assert response.status_code == 403
    assert response.get_json()["error"] == (
        f"The URL points to a private or local address ({host}), which this server does not fetch."
    )
    assert len(lab_server.hosts_seen) == before  # refused before connecting


@pytest.mark.parametrize(
    "url",
    ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://[::ffff:169.254.169.254]/"],
)
def test_cloud_metadata_stays_refused_in_a_lab_install(lab_client, url):
    response = score_url(lab_client, url)
    assert response.status_code == 403
    assert "private or local address" in response.get_json()["error"]


@pytest.mark.parametrize(
    ("path", "settings", "status", "message"),
    [
        ("/missing.jpg", {}, 502, "answered HTTP 404"),
        ("ftp://127.0.0.1/photo.jpg", {}, 400, "Only http and https URLs can be fetched, not ftp URLs."),
        ("127.0.0.1/photo.jpg", {}, 400, "needs to start with http:// or https://"),
        ("http://127.0.0.1:99999/photo.jpg", {}, 400, "check its host and port"),
        ("/redirect-loop", {}, 502, "redirected more than 5 times"),
        ("/slow.jpg", {"FETCH_TIMEOUT_S": 0.5}, 504, "took longer than 0.5 s"),
    ],
)
def test_unusable_urls_and_upstream_failures_are_explained(make_app, lab_server, path, settings, status, message):
    client = make_app(ALLOW_PRIVATE_URLS=True, **settings).test_client()
    response = score_url(client, path if not path.startswith("/") else lab_server.base + path)
    assert response.status_code == status
    assert message in response.get_json()["error"]


@pytest.mark.parametrize(
    "body",
    [{"url": 7}, {"url": ""}, ["http://example.com/a.jpg"], "not json"],
    ids=["url not a string", "empty url", "list", "not JSON"],
)
def test_json_body_must_name_a_url(client, body):
    if body == "not json":
        response = client.post(SCORE, data="{not json", content_type="application/json")
    else:
        response = client.post(SCORE, json=body)
    assert response.status_code == 400
    assert response.get_json()["error"] == 'Send JSON like {"url": "https://example.com/photo.jpg"}.'


def test_connection_goes_to_the_checked_address(lab_server, monkeypatch):
    """The host is resolved once, by the check; the request goes to that address (no DNS rebinding)."""
    port = lab_server.server_address[1]
    monkeypatch.setattr(fetch, "resolve", lambda host, p: [ipaddress.ip_address(LAB_HOST)])
    # images.example.test has no DNS entry, so only the checked address can have been used
    data = fetch.fetch_image(
        f"http://images.example.test:{port}/portrait.jpg", allow_private=True, timeout_s=5, max_bytes=10**7
    )
    assert data == PORTRAIT.read_bytes()
    assert lab_server.hosts_seen[-1] == f"images.example.test:{port}"


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """An HTTPS image server on 127.0.0.1 whose self-signed certificate names localhost."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    server = ImageServer(LAB_HOST)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    serve(server)
    yield server, cert
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("trust", "outcome"), [(True, "image"), (False, "refused")])
def test_https_is_pinned_yet_checked_against_the_host_name(tls_server, trust, outcome):
    server, cert = tls_server
    url = f"https://localhost:{server.server_address[1]}/portrait.jpg"
    kwargs = dict(allow_private=True, timeout_s=5, max_bytes=10**7, verify=str(cert) if trust else True)
    if outcome == "image":
        assert fetch.fetch_image(url, **kwargs) == PORTRAIT.read_bytes()
    else:
        with pytest.raises(fetch.FetchError, match="no valid HTTPS certificate") as refused:
            fetch.fetch_image(url, **kwargs)
        assert refused.value.status == 502

