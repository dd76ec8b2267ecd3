"""pooling-aio: the whole pool in one process, on the embedded default.

API + conductor + several simulated device hosts + one consumer host, on
SQLite and in-process messaging. State lives in --state-dir, so stopping and
starting again keeps every pool, profile and vGPU.
"""

import argparse
import json
import os
from socketserver import ThreadingMixIn
import sys
import threading
import time
import urllib.request
from wsgiref import simple_server

from oslo_log import log as logging

from pooling import conf as pooling_conf
from pooling import rpc
from pooling import service as pooling_service
import pooling.cmd  # noqa: F401  (selects the threading backend)
from pooling.db import api as db_api
from pooling.db import migration

LOG = logging.getLogger(__name__)

# (host, fabric, sim_devices): a mixed-vendor site with one host that has no cards.
DEFAULT_HOSTS = [
    ('gpu-a', 'fabric-1', 'nvidia:A100-SXM4-80GB:81920:108:4'),
    ('gpu-b', 'fabric-1', 'nvidia:H100-SXM5-80GB:81920:132:2,nvidia:L40S:46068:142:2'),
    ('npu-c', 'fabric-1', 'ascend:Ascend910B:65536:20:4'),
    ('cpu-1', 'fabric-1', ''),
]


class _ThreadingServer(ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True


class _QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, format, *args):
        LOG.debug('%s - %s', self.address_string(), format % args)


def _conf(state_dir, port, extra=None):
    conf = pooling_conf.new_conf([])
    conf.set_override('connection', 'sqlite:///%s' % os.path.join(state_dir, 'pooling.sqlite'),
                      group='database')
    conf.set_override('transport_url', 'fake:/')
    conf.set_override('auth_strategy', 'noauth', group='api')
    conf.set_override('port', port, group='api')
    conf.set_override('reconcile_interval', 5, group='conductor')
    conf.set_override('host_down_after', 30, group='conductor')
    conf.set_override('report_interval', 5, group='agent')
    for (group, key), value in (extra or {}).items():
        conf.set_override(key, value, group=group)
    return conf


def _http(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={'Content-Type': 'application/json'})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            text = resp.read().decode()
            return resp.status, json.loads(text) if text else None
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read().decode() or 'null')


def summary(endpoint) -> str:
    _, hosts = _http('GET', endpoint + '/v1/hosts')
    _, usage = _http('GET', endpoint + '/v1/usage')
    lines = ['Pool summary (%s):' % endpoint]
    for h in hosts['hosts']:
        lines.append('  host %-8s %-4s fabric=%s devices=%d'
                     % (h['name'], h['state'], h['fabric'], h['device_count']))
    for u in usage['usage']:
        lines.append('  %-8s %-22s cards=%d free=%.0f%% of %.0f%% compute, %d/%d MiB'
                     % (u['pool'], u['model'], u['devices'], u['free']['compute_percent'],
                        u['capacity']['compute_percent'], u['free']['memory_mb'],
                        u['capacity']['memory_mb']))
    return '\n'.join(lines)


def demo(endpoint, out=print) -> bool:
    """Claim a quarter of an A100 for the consumer host, remotely; show it; release it."""
    status, vgpu = _http('POST', endpoint + '/v1/vgpus', {
        'name': 'demo', 'compute_percent': 25, 'memory_mb': 20480,
        'models': ['A100-SXM4-80GB'], 'locality': 'remote-required',
        'consumer': {'platform': 'other', 'host': 'cpu-1', 'id': 'demo-consumer'}})
    out('POST /v1/vgpus -> %d, state %s' % (status, vgpu.get('state')))
    if status != 201:
        out(json.dumps(vgpu, indent=2))
        return False
    for _ in range(100):
        _, vgpu = _http('GET', endpoint + '/v1/vgpus/' + vgpu['uuid'])
        if vgpu['state'] in ('ACTIVE', 'ERROR'):
            break
        time.sleep(0.1)
    out('vGPU %s is %s on %s' % (vgpu['uuid'], vgpu['state'],
                                 ', '.join('%s/%s' % (s['host'], s['device_uuid'][:8])
                                           for s in vgpu['slices'])))
    shown = dict(vgpu, attachment=dict(vgpu['attachment'] or {}))
    if (shown['attachment'].get('remote') or {}).get('token'):
        shown['attachment']['remote'] = dict(shown['attachment']['remote'], token='***')
    out(json.dumps(shown, indent=2))
    out(summary(endpoint))
    status, _ = _http('DELETE', endpoint + '/v1/vgpus/' + vgpu['uuid'])
    for _ in range(100):
        _, vgpu = _http('GET', endpoint + '/v1/vgpus/' + vgpu['uuid'])
        if vgpu['state'] == 'DELETED':
            break
        time.sleep(0.1)
    out('DELETE -> %d, state %s' % (status, vgpu['state']))
    return vgpu['state'] == 'DELETED'


class AllInOne:
    """Start and stop every part of the pool in this process."""

    def __init__(self, state_dir, port=6388, hosts=None):
        os.makedirs(state_dir, exist_ok=True)
        self.conf = _conf(state_dir, port)
        self.hosts = hosts or DEFAULT_HOSTS
        self.state_dir, self.port = state_dir, port
        self.services = []
        self.httpd = None

    @property
    def endpoint(self):
        return 'http://%s:%d' % (self.conf.api.host, self.httpd.server_port)

    def start(self):
        db_api.configure(self.conf)
        migration.upgrade()
        transport = rpc.get_transport(self.conf)
        self.services.append(pooling_service.ConductorService(self.conf, transport))
        for name, fabric, devices in self.hosts:
            agent_conf = _conf(self.state_dir, self.port, {
                ('agent', 'host'): name, ('agent', 'fabric'): fabric,
                ('agent', 'sim_devices'): devices,
                # A consumer host runs an agent with no accelerator driver.
                ('agent', 'enabled_drivers'): ['sim'] if devices else [],
                ('agent', 'state_dir'): os.path.join(self.state_dir, 'agents', name),
                # Every simulated host's gateway on loopback, any free port,
                # certificates from the all-in-one's own CA.
                ('gateway', 'host'): '127.0.0.1', ('gateway', 'port'): 0,
                ('gateway', 'advertise_host'): '127.0.0.1',
                ('gateway', 'auto_pki_dir'): os.path.join(self.state_dir, 'pki')})
            self.services.append(pooling_service.AgentService(agent_conf, transport))
        for svc in self.services:
            svc.start()
        from pooling_api import app

        self.httpd = simple_server.make_server(self.conf.api.host, self.port,
                                               app.build(self.conf, transport),
                                               server_class=_ThreadingServer,
                                               handler_class=_QuietHandler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self._wait_for_hosts()

    def _wait_for_hosts(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _, hosts = _http('GET', self.endpoint + '/v1/hosts')
            if len([h for h in hosts['hosts'] if h['state'] == 'up']) >= len(self.hosts):
                return
            time.sleep(0.2)

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
        for svc in self.services:
            svc.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(prog='pooling-aio', description=__doc__)
    parser.add_argument('--state-dir', default=os.path.join(os.getcwd(), '.aio'),
                        help='Where the SQLite database lives (default: ./.aio).')
    parser.add_argument('--port', type=int, default=6388)
    parser.add_argument('--demo', action='store_true',
                        help='Claim, show and release one vGPU, then exit.')
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    aio = AllInOne(args.state_dir, args.port)
    aio.start()
    print('pooling all-in-one: API at %s (noauth; state in %s)' % (aio.endpoint,
                                                                    args.state_dir))
    print(summary(aio.endpoint), flush=True)
    if args.demo:
        ok = demo(aio.endpoint)
        aio.stop()
        sys.exit(0 if ok else 1)
    print('Serving until stopped (Ctrl-C). Try: curl %s/v1/devices' % aio.endpoint, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        aio.stop()
