"""``pooling run``: run a program on a remote vGPU.

::

    pooling run [--vgpu ID] [--lease FILE | --metadata] -- CMD [ARG ...]

Gets the vGPU's lease document (:mod:`pooling.gateway.lease`) from one of:

* ``--lease FILE`` (or ``$POOLING_LEASE_FILE``): a file a platform mounted (CDI, a pod volume);
* ``--metadata``: a Nova guest's metadata service, ``vendor_data2.json``, key ``pooling``
  (``{"leases": [...]}``); ``--vgpu`` picks one when there are several;
* ``--vgpu ID`` alone: the pool's API, ``POST /v1/vgpus/ID/lease`` (a fresh credential),
  with the user's keystoneauth session (the usual ``OS_*`` variables or ``--os-*`` options).

Then it checks the credential with every gateway of the lease, starts one local proxy per
gateway on 127.0.0.1, sets the backend's client environment (``sim``: ``POOLING_SIM_SERVER``;
``lupine``: ``LUPINE_SERVER`` in card order and the shim's library path), runs CMD, stops the
proxies and exits with CMD's status.  Its own failures exit 125 with one line saying what is
wrong: no lease, lease expired, gateway unreachable, credential refused.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from urllib import parse

from pooling.gateway import lease as lease_mod
from pooling.gateway import proxy
from pooling_drivers.remoting import base

#: Exit status of ``pooling run``'s own failures (as ``env`` and ``docker run`` use it).
EXIT_FAILURE = 125
METADATA_URL = 'http://169.254.169.254/openstack/latest/vendor_data2.json'
LEASE_ENV = 'POOLING_LEASE_FILE'
#: The API microversion that has /v1/vgpus/{id}/lease (pooling_api.rest_api_version_history).
LEASE_MICROVERSION = '1.3'


class RunError(Exception):
    """A failure of ``pooling run`` itself, with the line the user reads."""


def _from_file(path: str, attempts: int = 5) -> lease_mod.LeaseDocument:
    """The lease in ``path``; a document that does not parse is read again a few times over
    a second, since a platform rewrites a mounted lease in place when it rotates it."""
    for attempt in range(attempts):
        try:
            with open(path, 'rb') as f:
                data = f.read()
        except OSError as exc:
            raise RunError(f'no lease: cannot read {path}: {exc.strerror}') from exc
        try:
            return lease_mod.LeaseDocument.from_json(data)
        except lease_mod.LeaseExpired:
            raise
        except lease_mod.LeaseError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.25)


def _pick(leases: list, vgpu: str | None, where: str) -> lease_mod.LeaseDocument:
    docs = [lease_mod.LeaseDocument.from_dict(item) for item in leases]
    if vgpu:
        docs = [d for d in docs if d.vgpu_uuid == vgpu]
    if not docs:
        raise RunError(f'no lease{" for vGPU " + vgpu if vgpu else ""} in {where}')
    if len(docs) > 1:
        raise RunError(f'{where} holds {len(docs)} leases; choose one with --vgpu '
                       + ', '.join(d.vgpu_uuid for d in docs))
    return docs[0]


def _from_metadata(url: str, key: str, vgpu: str | None,
                   timeout: float = 10.0) -> lease_mod.LeaseDocument:
    import requests

    try:
        resp = requests.get(url, timeout=timeout)
    except requests.RequestException as exc:
        raise RunError(f'no lease: the metadata service at {url} does not answer: '
                       f'{exc}') from exc
    if resp.status_code != 200:
        raise RunError(f'no lease: the metadata service answered {resp.status_code} for {url}')
    try:
        section = resp.json().get(key)
    except (ValueError, AttributeError) as exc:
        raise RunError(f'no lease: {url} is not a JSON object') from exc
    if not isinstance(section, dict) or not isinstance(section.get('leases'), list):
        raise RunError(f'no lease: vendordata has no "{key}" section with leases (is the '
                       f'instance using a remote vGPU?)')
    return _pick(section['leases'], vgpu, 'the instance vendordata')


def _from_api(args) -> lease_mod.LeaseDocument:
    from keystoneauth1 import adapter
    from keystoneauth1 import exceptions as ks_exc
    from keystoneauth1 import loading

    try:
        auth = loading.load_auth_from_argparse_arguments(args)
        session = loading.load_session_from_argparse_arguments(args, auth=auth)
    except ks_exc.ClientException as exc:
        raise RunError(f'cannot authenticate to fetch the lease: {exc}') from exc
    api = adapter.Adapter(session, service_type='accelerator-pool',
                          endpoint_override=args.pooling_endpoint or None, raise_exc=False)
    path = '/v1/vgpus/%s/lease' % parse.quote(args.vgpu, safe='')
    try:
        # NOTE: POST issues a fresh credential (GET shows the lease without one); the lease
        # resource exists from microversion LEASE_MICROVERSION.
        resp = api.post(path, headers={
            'Accept': 'application/json',
            'OpenStack-API-Version': 'accelerator-pool ' + LEASE_MICROVERSION})
    except ks_exc.ClientException as exc:
        raise RunError(f'no lease: the pool API cannot be reached: {exc}') from exc
    if resp.status_code == 404:
        raise RunError(f'no lease: vGPU {args.vgpu} does not exist or is not remote')
    if resp.status_code >= 400:
        try:
            detail = resp.json()['errors'][0]['detail']
        except (ValueError, KeyError, IndexError, TypeError):
            detail = resp.text[:200]
        raise RunError(f'no lease: the pool API answered {resp.status_code}: {detail}')
    return lease_mod.LeaseDocument.from_json(resp.content)


def get_lease(args) -> lease_mod.LeaseDocument:
    """The lease the options name. :raises RunError: or :class:`lease_mod.LeaseError`."""
    if args.lease:
        doc = _from_file(args.lease)
        if args.vgpu and doc.vgpu_uuid != args.vgpu:
            raise RunError(f'{args.lease} is the lease of vGPU {doc.vgpu_uuid}, not {args.vgpu}')
        return doc
    if args.metadata:
        return _from_metadata(args.metadata_url, args.vendordata_key, args.vgpu)
    if args.vgpu:
        return _from_api(args)
    if os.environ.get(LEASE_ENV):
        return _from_file(os.environ[LEASE_ENV])
    raise RunError(f'no lease: give --vgpu ID, --lease FILE or --metadata (or set {LEASE_ENV})')


def client_env(doc: lease_mod.LeaseDocument, addresses: list[str], args) -> dict[str, str]:
    try:
        driver = base.driver_class(doc.protocol)
    except base.UnknownRemotingDriver as exc:
        raise RunError(f'the lease speaks {doc.protocol!r}, which this client does not know '
                       f'({exc})') from exc
    options = {'client_lib_dir': args.lupine_lib} if args.lupine_lib else {}
    env = dict(os.environ)
    for key, value in driver.client_env(addresses, options).items():
        if key in ('LD_LIBRARY_PATH', 'PATH') and env.get(key):
            value = value + os.pathsep + env[key]
        env[key] = value
    env['POOLING_VGPU'] = doc.vgpu_uuid
    return env


def run(args) -> int:
    doc = get_lease(args)
    doc.check_live()
    context = proxy.client_context(doc.ca_cert)
    proxies = []
    try:
        for endpoint in doc.endpoints:
            # Ask before running anything, so a bad lease fails with its reason, not the
            # program's confusion at a closed socket.
            proxy.open_tunnel(endpoint, doc.token, context, verb='CHECK',
                              timeout=args.gateway_timeout).close()

        def report(exc: proxy.TunnelError) -> None:
            print(f'pooling run: {exc}', file=sys.stderr, flush=True)

        for endpoint in doc.endpoints:
            p = proxy.LocalProxy(endpoint, doc.token, context, on_error=report)
            proxies.append(p)
            p.start()
        env = client_env(doc, [p.address for p in proxies], args)
        try:
            child = subprocess.Popen(args.command, env=env)
        except OSError as exc:
            raise RunError(f'cannot run {args.command[0]}: {exc.strerror}') from exc
        forward = {sig: signal.signal(sig, lambda s, _f: child.send_signal(s))
                   for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            code = child.wait()
        finally:
            for sig, old in forward.items():
                signal.signal(sig, old)
        return 128 - code if code < 0 else code
    finally:
        for p in proxies:
            p.stop()


def _explain(exc: Exception) -> str:
    if isinstance(exc, proxy.GatewayRefused):
        return {'denied': 'the gateway refused the credential (wrong token, or the vGPU was '
                          'deleted or its credential revoked); get a fresh lease',
                'expired': 'the lease has expired; get a renewed lease',
                'busy': f'the vGPU has all its connections in use ({exc.text})',
                'unavailable': 'the vGPU\'s backend on its device host does not answer',
                }.get(exc.code, str(exc))
    return str(exc)


def build_parser(argv=None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='pooling', description='Use pooled accelerators.')
    sub = parser.add_subparsers(dest='action', required=True)
    run_p = sub.add_parser('run', help='run a program on a remote vGPU',
                           description=__doc__.split('\n')[0])
    run_p.add_argument('--vgpu', help='the vGPU (uuid) to use')
    source = run_p.add_mutually_exclusive_group()
    source.add_argument('--lease', help='lease document file')
    source.add_argument('--metadata', action='store_true',
                        help='read the lease from the Nova metadata service')
    run_p.add_argument('--metadata-url', default=METADATA_URL)
    run_p.add_argument('--vendordata-key', default='pooling')
    run_p.add_argument('--pooling-endpoint', default=os.environ.get('POOLING_ENDPOINT'),
                       help='the pool API root, when the catalog does not list it')
    run_p.add_argument('--lupine-lib', default=os.environ.get('POOLING_LUPINE_LIB'),
                       help='folder of the LUPINE client shim (default /opt/lupine/lib)')
    run_p.add_argument('--gateway-timeout', type=float, default=10.0,
                       help='seconds to wait for a gateway')
    run_p.add_argument('command', nargs=argparse.REMAINDER, help='-- CMD [ARG ...]')
    try:
        from keystoneauth1 import loading

        loading.register_session_argparse_arguments(run_p)
        loading.register_auth_argparse_arguments(
            run_p, sys.argv[1:] if argv is None else list(argv), default='password')
    except ImportError:  # keystoneauth is a dependency; only --lease/--metadata then
        pass
    return parser


def main(argv=None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    command = list(args.command)
    if command and command[0] == '--':
        command = command[1:]
    if not command:
        parser.error('give the program to run after --')
    args.command = command
    try:
        return run(args)
    except (RunError, lease_mod.LeaseError, proxy.TunnelError) as exc:
        print(f'pooling run: error: {_explain(exc)}', file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


if __name__ == '__main__':
    sys.exit(main())

