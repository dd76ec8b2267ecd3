"""``pooling-k8s``: the pool's Kubernetes bridge (wires drivers/platforms/kubernetes).

Subcommands:

* ``manifests`` -- print, as YAML, the DeviceClasses and ResourceSlices the controller would
  publish now (a dry run; reads only the pool);
* ``controller`` -- publish them and keep them in step (one Deployment per cluster);
* ``kubelet-plugin`` -- the DRA kubelet plugin of one node (a DaemonSet);
* ``device-plugin`` -- the fallback for clusters without DRA (a DaemonSet).

It lives with the client because it is one: it reaches the pool only through the REST API. The
pool is reached with the same connection options as the ``openstack`` CLI (keystoneauth:
``--os-auth-url`` ... or ``--os-auth-type none --os-endpoint URL`` against the all-in-one), the
cluster with ``--kubeconfig`` or, inside a pod, the service account.
"""

from __future__ import annotations

import argparse
import copy
import logging
import signal
import sys
import threading

from keystoneauth1 import loading

from pooling_drivers.platforms import cdi
from pooling_drivers.platforms.kubernetes import model

LOG = logging.getLogger('pooling-k8s')


def _pool_args(parser: argparse.ArgumentParser, argv) -> None:
    loading.register_session_argparse_arguments(parser)
    loading.register_auth_argparse_arguments(parser, argv, default='password')
    parser.add_argument('--os-interface', default='public',
                        help='Catalog interface of the pool endpoint (public).')
    parser.add_argument('--os-region-name', help='Region of the pool endpoint.')


class PoolClients:
    """``poolingclient`` clients for the admin view and for each project the plugin acts in."""

    def __init__(self, args) -> None:
        self.args = args
        self.noauth = (getattr(args, 'os_auth_type', None) or '') in ('none', 'noauth')
        self._admin = None
        self._lock = threading.Lock()
        self._projects: dict[str, object] = {}

    def _client(self, args, project: str | None = None):
        from poolingclient.v1 import client as pool_client

        auth = loading.load_auth_from_argparse_arguments(args)
        session = loading.load_session_from_argparse_arguments(args, auth=auth)
        client = pool_client.Client(session, endpoint=getattr(args, 'os_endpoint', None),
                                    interface=args.os_interface,
                                    region_name=args.os_region_name,
                                    user_agent='pooling-k8s')
        if self.noauth and project:
            # NOTE: without Keystone the API takes the project from this header.
            client._adapter.additional_headers['X-Project-Id'] = project
        return client

    def admin(self):
        if self._admin is None:
            self._admin = self._client(self.args)
        return self._admin

    def for_project(self, project: str):
        with self._lock:
            if project not in self._projects:
                args = copy.copy(self.args)
                if not self.noauth:
                    args.os_project_id, args.os_project_name = project, None
                self._projects[project] = self._client(args, project)
            return self._projects[project]


def _kube(args):
    from kubernetes import client as k8s
    from kubernetes import config as k8s_config

    if args.kubeconfig:
        return k8s_config.new_client_from_config(config_file=args.kubeconfig)
    k8s_config.load_incluster_config()
    return k8s.ApiClient()


def _yaml_dump(objects) -> str:
    import yaml

    return yaml.safe_dump_all(objects, sort_keys=False, default_flow_style=False)


def cmd_manifests(args) -> int:
    view = model.PoolView.from_client(PoolClients(args).admin())
    objects = model.device_classes(view)
    for slices in model.with_generations(model.resource_slices(view), {}).values():
        objects += slices
    sys.stdout.write(_yaml_dump(objects))
    return 0


def _wait_for_signal(stop) -> None:
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    stop()


def cmd_controller(args) -> int:
    from pooling_drivers.platforms.kubernetes import controller

    clients = PoolClients(args)
    ctl = controller.Controller(controller.Publisher(_kube(args)),
                                lambda: model.PoolView.from_client(clients.admin()),
                                interval=args.interval)
    if args.once:
        result = ctl.run_once()
        print(f'created {len(result.created)}, updated {len(result.updated)}, '
              f'deleted {len(result.deleted)}')
        return 0
    threading.Thread(target=ctl.run, name='publisher', daemon=True).start()
    _wait_for_signal(ctl.stop)
    return 0


def _projects(pairs) -> dict[str, str]:
    out = {}
    for pair in pairs or ():
        namespace, sep, project = pair.partition('=')
        if not sep or not namespace or not project:
            raise SystemExit(f'pooling-k8s: --namespace-project {pair!r}: want NAMESPACE=PROJECT '
                             '(* for every other namespace)')
        out[namespace] = project
    return out


def _cdi(args) -> cdi.CdiPlatform:
    from pooling_drivers.platforms.kubernetes import platform

    return platform.KubernetesPlatform({'spec_dir': args.cdi_spec_dir,
                                        'lease_dir': args.lease_dir, 'mounts': args.cdi_mount})


def cmd_kubelet_plugin(args) -> int:
    from pooling_drivers.platforms.kubernetes import claims
    from pooling_drivers.platforms.kubernetes import kubelet_plugin

    clients = PoolClients(args)
    preparer = claims.ClaimPreparer(args.node_name, claims.KubeClaims(_kube(args)),
                                    clients.for_project, _cdi(args),
                                    _projects(args.namespace_project), timeout=args.timeout)
    plugin = kubelet_plugin.KubeletPlugin(preparer, plugin_dir=args.plugin_dir,
                                          registry_dir=args.registry_dir).start()
    threading.Thread(target=plugin.run_watchdog, daemon=True).start()
    _wait_for_signal(plugin.stop)
    return 0


def cmd_device_plugin(args) -> int:
    from pooling_drivers.platforms.kubernetes import device_plugin

    clients = PoolClients(args)
    project = _projects([args.project_pair])['*'] if args.project_pair else None
    if not project:
        raise SystemExit('pooling-k8s device-plugin: --project is required')
    plugin = device_plugin.DevicePlugin(
        args.node_name, args.profile, lambda: clients.for_project(project), _cdi(args),
        plugin_dir=args.device_plugin_dir, interval=args.interval).start()
    _wait_for_signal(plugin.stop)
    return 0


def build_parser(argv) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='pooling-k8s', description=__doc__.split('\n')[0])
    _pool_args(parser, argv)
    parser.add_argument('--kubeconfig', help='kubeconfig file (default: in-cluster).')
    parser.add_argument('--debug', action='store_true')
    sub = parser.add_subparsers(dest='command', required=True)
    sub.add_parser('manifests', help='print the DeviceClasses and ResourceSlices as YAML'
                   ).set_defaults(func=cmd_manifests)
    ctl = sub.add_parser('controller', help='publish ResourceSlices and DeviceClasses')
    ctl.add_argument('--interval', type=float, default=10.0, help='seconds between passes')
    ctl.add_argument('--once', action='store_true', help='one pass, then exit')
    ctl.set_defaults(func=cmd_controller)
    for name, func in (('kubelet-plugin', cmd_kubelet_plugin),
                       ('device-plugin', cmd_device_plugin)):
        p = sub.add_parser(name)
        p.add_argument('--node-name', required=True,
                       help='this node (the downward API spec.nodeName; a pool host name)')
        p.add_argument('--cdi-spec-dir', default='/var/run/cdi')
        p.add_argument('--lease-dir', default='/var/lib/pooling/leases')
        p.add_argument('--cdi-mount', action='append', default=[],
                       help='host[:container[:rw]] mounted into every pod using a vGPU')
        p.set_defaults(func=func)
        if name == 'kubelet-plugin':
            p.add_argument('--namespace-project', action='append', default=[],
                           help='NAMESPACE=PROJECT: the OpenStack project of the namespace\'s '
                                'claims; * matches every other namespace (repeatable)')
            p.add_argument('--plugin-dir', default=f'/var/lib/kubelet/plugins/{model.DRIVER}')
            p.add_argument('--registry-dir', default='/var/lib/kubelet/plugins_registry')
            p.add_argument('--timeout', type=float, default=120.0,
                           help='seconds to wait for a vGPU to become ACTIVE')
        else:
            p.add_argument('--profile', required=True,
                           help='the pool profile each advertised replica stands for')
            p.add_argument('--project', dest='project_pair', type=lambda s: f'*={s}',
                           help='OpenStack project the vGPUs are made in')
            p.add_argument('--device-plugin-dir', default='/var/lib/kubelet/device-plugins')
            p.add_argument('--interval', type=float, default=10.0)
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format='%(asctime)s %(levelname)s %(name)s %(message)s')
    try:
        return args.func(args)
    except Exception as exc:  # a CLI says what went wrong, without a traceback
        if args.debug:
            raise
        print(f'pooling-k8s {args.command}: {exc}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
