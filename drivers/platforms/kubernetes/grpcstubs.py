"""Python stubs for our .proto files, generated with grpcio-tools when first needed.

Why at run time and not committed: the stubs must match the installed protobuf runtime, and the
repository keeps only the interface files we wrote (``protos/``).  Generation takes about a
second; the result is cached in a directory keyed by the protos' and grpcio-tools' versions, so
it happens once per installation (``POOLING_K8S_STUB_DIR`` picks the directory).
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import os
import shutil
import sys
import tempfile
import threading

PROTO_DIR = os.path.join(os.path.dirname(__file__), 'protos')
PROTOS = {
    'registration': 'pooling_k8s_pluginregistration',
    'dra_v1': 'pooling_k8s_dra_v1',
    'dra_v1beta1': 'pooling_k8s_dra_v1beta1',
    'deviceplugin': 'pooling_k8s_deviceplugin_v1beta1',
}
_LOCK = threading.Lock()


class StubError(RuntimeError):
    """grpcio-tools is missing or protoc refused a file."""


def _stub_dir() -> str:
    import grpc_tools

    digest = hashlib.sha256(getattr(grpc_tools, '__version__', '').encode())
    for name in sorted(PROTOS.values()):
        with open(os.path.join(PROTO_DIR, name + '.proto'), 'rb') as f:
            digest.update(f.read())
    base = os.environ.get('POOLING_K8S_STUB_DIR') or os.path.join(
        tempfile.gettempdir(), f'pooling-k8s-stubs-{os.getuid()}')
    return os.path.join(base, digest.hexdigest()[:16])


@functools.cache
def _generated() -> str:
    try:
        from grpc_tools import protoc
    except ImportError as exc:
        raise StubError('pooling-k8s needs grpcio-tools to build its gRPC stubs: '
                        'pip install grpcio-tools') from exc
    out = _stub_dir()
    with _LOCK:
        if not os.path.exists(os.path.join(out, '.done')):
            # NOTE: generated aside and renamed into place, so that concurrent processes (test
            # workers, several plugins on a node) never import a half-written module.
            os.makedirs(os.path.dirname(out), exist_ok=True)
            work = tempfile.mkdtemp(prefix='.gen-', dir=os.path.dirname(out))
            include = os.path.join(os.path.dirname(protoc.__file__), '_proto')
            for name in PROTOS.values():
                rc = protoc.main(['protoc', f'-I{PROTO_DIR}', f'-I{include}',
                                  f'--python_out={work}', f'--grpc_python_out={work}',
                                  os.path.join(PROTO_DIR, name + '.proto')])
                if rc != 0:
                    shutil.rmtree(work, ignore_errors=True)
                    raise StubError(f'protoc failed on {name}.proto (rc {rc})')
            with open(os.path.join(work, '.done'), 'w'):
                pass
            try:
                os.rename(work, out)
            except OSError:
                # Another process got there first with the same stubs.
                shutil.rmtree(work, ignore_errors=True)
    if out not in sys.path:
        sys.path.append(out)
    return out


def load(which: str):
    """Return ``(messages module, grpc module)`` of one proto: ``registration``, ``dra_v1``,
    ``dra_v1beta1`` or ``deviceplugin``."""
    _generated()
    name = PROTOS[which]
    return importlib.import_module(name + '_pb2'), importlib.import_module(name + '_pb2_grpc')
