"""Fetching an image by URL without letting the URL reach inside the network.

A URL given to the scoring server could point at the server's own loopback,
the local network or the cloud metadata service (SSRF). So each hop:
  1. must be http or https;
  2. has its host resolved here, and every address it resolves to must be
     public (unless a lab install allows private ones; metadata never);
  3. is fetched from the address that was checked, with the original name
     in the Host header and for TLS, so DNS cannot answer differently the
     second time (rebinding);
  4. is not followed automatically: a redirect is a new hop, checked again.
The body is streamed under a byte limit and the whole fetch under a deadline.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

ALLOWED_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_REDIRECTS = 5  # more than a CDN needs; a redirect loop ends here
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
CHUNK_BYTES = 64 * 1024
# image servers often label images as octet streams; anything else (html, json...) is refused
IMAGE_CONTENT_TYPES = ("application/octet-stream", "binary/octet-stream")
USER_AGENT = "deepfake-check-server/1 (image fetch for scoring)"
# cloud metadata services: AWS/GCP/Azure/OpenStack, AWS over IPv6, Alibaba; refused even in a lab
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # an IPv6 face for an IPv4 address


class FetchError(Exception):
    """The image could not be fetched; status is the HTTP status to answer with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _embedded_ipv4(ip):
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, Teredo, NAT64), if any."""
    if ip.version != 6:
        return None
    if ip.ipv4_mapped or ip.sixtofour:
        return ip.ipv4_mapped or ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if ip in NAT64:
        return ipaddress.ip_address(int(ip) & 0xFFFFFFFF)
    return None


def address_allowed(ip, allow_private: bool) -> bool:
    """Whether the server may connect to this address."""
    ips = [ip] + [v4 for v4 in [_embedded_ipv4(ip)] if v4 is not None]
    if any(a in METADATA_ADDRESSES or a.is_multicast for a in ips):
        return False
    return allow_private or all(a.is_global for a in ips)


def resolve(host: str, port: int) -> list:
    """Every address host resolves to."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise FetchError(502, f"The host {host} could not be found.") from None
    # drop an IPv6 scope id ("fe80::1%eth0"): ipaddress reads the address without it
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))


class _PinnedHostAdapter(HTTPAdapter):
    """Connects to an IP address but speaks TLS (SNI, certificate) for the host name."""

    def __init__(self, hostname: str):
        self._hostname = hostname
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["server_hostname"] = self._hostname
        kwargs["assert_hostname"] = self._hostname
        super().init_poolmanager(*args, **kwargs)


def _checked_hop(url: str, allow_private: bool, redirected: bool):
    """(scheme, host, port, address) for a URL the server may fetch, or FetchError."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise FetchError(400, "The URL is not valid; check its host and port.") from None
    scheme = parts.scheme.lower()
    if not scheme:
        raise FetchError(400, "The URL needs to start with http:// or https://.")
    if scheme not in ALLOWED_SCHEMES:
        raise FetchError(400, f"Only http and https URLs can be fetched, not {scheme} URLs.")
    host = parts.hostname
    if not host:
        raise FetchError(400, "The URL has no host name.")
    port = port or DEFAULT_PORTS[scheme]
    addresses = resolve(host, port)
    if not all(address_allowed(ip, allow_private) for ip in addresses):
        # the host as written, not what it resolved to: the answer must not map out internal DNS
        where = "redirects to" if redirected else "points to"
        raise FetchError(403, f"The URL {where} a private or local address ({host}), which this server does not fetch.")
    return parts, host, port, addresses[0]


def _pinned_request(session, parts, host: str, port: int, ip, timeout: float, verify):
    """GET the URL from the checked address, naming the host in Host and TLS."""
    scheme = parts.scheme.lower()
    literal = f"[{ip}]" if ip.version == 6 else str(ip)
    url = urlunsplit((scheme, f"{literal}:{port}", parts.path or "/", parts.query, ""))
    name = f"[{host}]" if ":" in host else host
    host_header = name if port == DEFAULT_PORTS[scheme] else f"{name}:{port}"
    session.mount(f"https://{literal}:{port}", _PinnedHostAdapter(host))
    return session.get(
        url,
        headers={"Host": host_header, "User-Agent": USER_AGENT, "Accept": "image/*", "Accept-Encoding": "identity"},
        allow_redirects=False,
        stream=True,
        timeout=timeout,
        verify=verify,
    )


def _read_limited(response, max_bytes: int, deadline: float, timeout_s: float) -> bytes:
    mb = max_bytes / 1_000_000
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(413, f"The image at the URL is over the {mb:g} MB limit.")
    body = bytearray()
    for chunk in response.iter_content(CHUNK_BYTES):
        body += chunk
        if len(body) > max_bytes:
            raise FetchError(413, f"The image at the URL is over the {mb:g} MB limit.")
        if time.monotonic() > deadline:
            raise FetchError(504, f"The image URL took longer than {timeout_s:g} s to answer.")
    return bytes(body)


def fetch_image(url: str, *, allow_private: bool, timeout_s: float, max_bytes: int, verify=True) -> bytes:
    """The body of an image URL, fetched hop by hop under the rules above."""
    deadline = time.monotonic() + timeout_s
    for hop in range(MAX_REDIRECTS + 1):
        parts, host, port, ip = _checked_hop(url, allow_private, redirected=hop > 0)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError(504, f"The image URL took longer than {timeout_s:g} s to answer.")
        # trust_env off: a proxy from the environment would resolve the host itself
        with requests.Session() as session:
            session.trust_env = False
            try:
                with _pinned_request(session, parts, host, port, ip, remaining, verify) as response:
                    if response.status_code in REDIRECT_STATUSES and response.headers.get("Location"):
                        url = urljoin(url, response.headers["Location"])
                        continue
                    if response.status_code != 200:
                        raise FetchError(502, f"The image URL answered HTTP {response.status_code}.")
                    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
                    if content_type and not (content_type.startswith("image/") or content_type in IMAGE_CONTENT_TYPES):
                        raise FetchError(415, f"The URL returned {content_type}, not an image.")
                    return _read_limited(response, max_bytes, deadline, timeout_s)
            except requests.exceptions.SSLError:
                raise FetchError(502, f"The host {host} has no valid HTTPS certificate.") from None
            except (requests.exceptions.Timeout, requests.exceptions.ConnectionError) as e:
                # requests reports a read timeout in the body as a ConnectionError
                if isinstance(e, requests.exceptions.Timeout) or time.monotonic() >= deadline:
                    raise FetchError(504, f"The image URL took longer than {timeout_s:g} s to answer.") from None
                raise FetchError(502, f"Could not connect to {host}.") from None
            except requests.exceptions.RequestException:
                raise FetchError(502, f"Fetching the image from {host} failed.") from None
    raise FetchError(502, f"The image URL redirected more than {MAX_REDIRECTS} times.")
