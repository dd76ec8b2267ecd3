"""A small CA for the all-in-one and tests: one CA, one certificate per gateway host.

Production deployments bring their own certificates ([gateway] cert_file, key_file, ca_file);
``ensure`` is what ``[gateway] auto_pki_dir`` runs so that the all-in-one works out of the box.
Keys are EC P-256 (fast handshakes), written 0600.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.oid import NameOID


@dataclasses.dataclass(frozen=True)
class GatewayFiles:
    ca_file: str
    cert_file: str
    key_file: str

    def ca_pem(self) -> str:
        with open(self.ca_file) as f:
            return f.read()


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: str, data: bytes, mode: int) -> None:
    tmp = path + '.tmp'
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, 'wb') as f:
        f.write(data)
    os.replace(tmp, path)


def _san(names) -> x509.SubjectAlternativeName:
    entries = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def make_ca(common_name: str = 'pooling all-in-one CA', days: int = 3650):
    """Return ``(key, certificate)`` of a new self-signed CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def make_server_cert(ca_key, ca_cert, names, days: int = 825):
    """Return ``(key, certificate)`` for a gateway known by ``names`` (DNS names or IPs)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(_san(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def ensure(directory: str, names) -> GatewayFiles:
    """Make, once, a CA and a certificate for ``names`` under ``directory``; return the paths.

    An existing CA is reused; the server certificate is remade when ``names`` change.
    """
    os.makedirs(directory, mode=0o700, exist_ok=True)
    names = list(dict.fromkeys(n for n in names if n))
    ca_file = os.path.join(directory, 'ca.pem')
    ca_key_file = os.path.join(directory, 'ca-key.pem')
    cert_file = os.path.join(directory, 'gateway.pem')
    key_file = os.path.join(directory, 'gateway-key.pem')
    if os.path.exists(ca_file) and os.path.exists(ca_key_file):
        with open(ca_key_file, 'rb') as f:
            ca_key = serialization.load_pem_private_key(f.read(), None)
        with open(ca_file, 'rb') as f:
            ca_cert = x509.load_pem_x509_certificate(f.read())
    else:
        ca_key, ca_cert = make_ca()
        _write(ca_key_file, _key_pem(ca_key), 0o600)
        _write(ca_file, ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)
    current = None
    if os.path.exists(cert_file) and os.path.exists(key_file):
        with open(cert_file, 'rb') as f:
            current = x509.load_pem_x509_certificate(f.read())
        have = current.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        if set(map(str, have)) != set(map(str, _san(names))):
            current = None
    if current is None:
        key, cert = make_server_cert(ca_key, ca_cert, names)
        _write(key_file, _key_pem(key), 0o600)
        _write(cert_file, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return GatewayFiles(ca_file, cert_file, key_file)
