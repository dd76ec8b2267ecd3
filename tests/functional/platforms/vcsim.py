"""The vCenter simulator as a test fixture: ``tests/fixtures/vcsim/poolsim`` (our main.go on the
simulator library of Debian's govmomi sources) stands in for a vCenter with NVIDIA vGPU hosts.

It is built once by ``tools/build-vcsim.sh`` (cached under ``.cache/vcsim``) and started per
test, so each test gets a fresh inventory: 2 ESXi hosts (``DC0_C0_H0``, ``DC0_C0_H1``) with two
A100-PCIE-40GB cards each and VMs ``DC0_C0_RP0_VM0``/``VM1``, powered on.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[3]
USER, PASSWORD = 'pool', 'secret'


def configure_agent(conf, url: str, name: str = 'vc1') -> None:
    """Make ``conf`` (an agent's) run the vmware platform against the simulator at ``url``."""
    from pooling.conf import vmware as vmware_conf

    vmware_conf.register_opts(conf)
    conf.set_override('vcenters', [name], group='vmware')
    vmware_conf.register_opts(conf)  # registers the [vcenter_<name>] group just named
    for key, value in (('url', url), ('user', USER), ('password', PASSWORD)):
        conf.set_override(key, value, group='vcenter_' + name)


def build() -> str | None:
    """Path of the simulator binary, or None when golang/govmomi are not installed."""
    proc = subprocess.run(['bash', str(ROOT / 'tools' / 'build-vcsim.sh')], capture_output=True,
                          text=True, timeout=600)
    if proc.returncode == 2:
        return None
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


class Simulator:
    """One running simulator; ``url`` is its SDK URL."""

    def __init__(self, binary: str, *args: str) -> None:
        self.proc = subprocess.Popen([binary, '-user', USER, '-password', PASSWORD, *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError('vcsim did not start: ' + self.proc.stderr.read())
        self.url = json.loads(line)['url']

    def options(self, name='vc1', **extra) -> dict:
        """The vmware driver's ``vcenters`` entry for this simulator."""
        return {'vcenters': {name: {'url': self.url, 'user': USER, 'password': PASSWORD,
                                    **extra}}}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def make_certs(folder: pathlib.Path) -> tuple[str, str, str]:
    """A CA and a server certificate for 127.0.0.1 signed by it: (ca, cert, key) paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name('pool test CA')).issuer_name(
        name('pool test CA')).public_key(ca_key.public_key()).serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name('127.0.0.1')).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = [folder / 'ca.pem', folder / 'cert.pem', folder / 'key.pem']
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    os.chmod(paths[2], 0o600)
    return tuple(str(p) for p in paths)
