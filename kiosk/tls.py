"""The school's own small certificate authority, so tablets get HTTPS (and so their camera) on the LAN.

Browsers give the camera only to secure pages; a tablet reaching a kiosk or the server by its LAN
address over plain HTTP gets none. Instead of a reverse proxy and a bought certificate, the data
directory holds a CA made on first use (``tls/ca.crt`` + ``tls/ca.key``, the key 0600) and a server
certificate it signs for every name and address this machine answers on. A tablet installs the CA
once (the /ca page explains how, with a QR code to reach it); every certificate the school's
machines make later is then trusted.

Validity: the CA 10 years; a server certificate 397 days (the most iPadOS/Safari accept) and
renewed automatically when it is within 30 days of expiry or when the machine's names change.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TLS_DIR = "tls"
CA_DAYS = 3650
CERT_DAYS = 397
RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    cert: Path  # the server certificate followed by the CA (a full chain)
    key: Path


def _write_private(path: Path, data: bytes) -> None:
    """Create the file 0600 from the start: a key must never be readable by others, even briefly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def local_names() -> tuple[list[str], list[str]]:
    """The DNS names and IP addresses this machine is reached by on the LAN (and loopback)."""
    host = socket.gethostname()
    names = {host, f"{host}.local", "localhost"}
    addresses = {"127.0.0.1", "::1"}
    try:
        for info in socket.getaddrinfo(host, None):
            addresses.add(info[4][0])
    except OSError:
        pass
    # The address the default route leaves by: what tablets on the Wi-Fi type or scan.
    # connect() on UDP sends nothing; it only picks the interface.
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed, nothing is sent
            addresses.add(probe.getsockname()[0])
    except OSError:
        pass
    clean = sorted(a for a in addresses if not a.startswith("fe80"))
    return sorted(names), clean


def ensure_ca(directory: Path, school: str = "") -> tuple[Path, Path]:
    """The data directory's CA certificate and key, made on first use."""
    tls = Path(directory) / TLS_DIR
    ca_cert, ca_key = tls / "ca.crt", tls / "ca.key"
    if ca_cert.exists() and ca_key.exists():
        return ca_cert, ca_key
    key = ec.generate_private_key(ec.SECP256R1())
    label = f"Mượn Trả – {school}" if school else "Mượn Trả"
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, f"{label} CA"[:64]),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, label[:64]),
    ])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(ca_key, _key_pem(key))
    tls.mkdir(parents=True, exist_ok=True)
    ca_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return ca_cert, ca_key


def _sans(names: list[str], addresses: list[str]) -> list[x509.GeneralName]:
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    for address in addresses:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(address)))
        except ValueError:
            continue
    return sans


def _current_cert_fits(path: Path, ca: x509.Certificate, wanted: list[x509.GeneralName]) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    return (cert.issuer == ca.subject and set(sans) >= set(wanted)
            and cert.not_valid_after_utc - RENEW_BEFORE > _now())


def ensure_server_cert(directory: Path, school: str = "", names: list[str] | None = None,
                       addresses: list[str] | None = None) -> TlsFiles:
    """A server certificate for this machine's names and addresses, signed by the school's CA.

    Made again when a name or address is missing from it (the Pi got a new DHCP lease) or it is
    within 30 days of expiry; otherwise the one on disk is kept."""
    found_names, found_addresses = local_names()
    names = sorted(set(found_names) | set(names or []))
    addresses = sorted(set(found_addresses) | set(addresses or []))
    ca_cert_path, ca_key_path = ensure_ca(directory, school)
    ca = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
    tls = Path(directory) / TLS_DIR
    files = TlsFiles(ca_cert_path, tls / "server.crt", tls / "server.key")
    wanted = _sans(names, addresses)
    if files.key.exists() and _current_cert_fits(files.cert, ca, wanted):
        return files
    ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0][:64])]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=CERT_DAYS))
        .add_extension(x509.SubjectAlternativeName(wanted), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(files.key, _key_pem(key))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + ca_cert_path.read_bytes())
    return files


def ca_der(directory: Path) -> bytes:
    """The CA certificate in DER, the form Android's and iPadOS's installers take from a download."""
    cert = x509.load_pem_x509_certificate(ensure_ca(directory)[0].read_bytes())
    return cert.public_bytes(serialization.Encoding.DER)


def ca_fingerprint(directory: Path) -> str:
    """SHA-256 of the CA, grouped for reading aloud against what the tablet shows."""
    cert = x509.load_pem_x509_certificate(ensure_ca(directory)[0].read_bytes())
    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def start_https(wsgi_app, host: str, port: int, files: TlsFiles, threads: int = 16):
    """Serve the same WSGI app over TLS in a background thread (cheroot: waitress has no TLS).

    Returns the started server; ``server.stop()`` ends it. The plain-HTTP server keeps running
    beside it for the kiosk's own screen (loopback) and for JSON clients."""
    import threading

    from cheroot import wsgi
    from cheroot.ssl.builtin import BuiltinSSLAdapter

    server = wsgi.Server((host, port), wsgi_app, numthreads=threads, server_name="muontra")
    server.ssl_adapter = BuiltinSSLAdapter(str(files.cert), str(files.key))
    server.prepare()  # binds now, so a taken port fails the start instead of a thread
    threading.Thread(target=server.serve, name="https", daemon=True).start()
    return server
