"""Remote data plane benchmark: the ``sim`` backend direct vs through proxy + TLS gateway.

``python -m bench.remote [--json FILE] [--png FILE] [--repeat N]``

Every piece runs as the process it is in production: the sim backend (one process per lease),
``pooling-gateway`` (its own process here; inside the agent in production), and the consumer's
``pooling run`` (local proxy) running the measuring client as its program.  The *direct* runs
point the same client at the backend's loopback port.  Per size (1, 16, 256 MiB) it times
host-to-device and device-to-host copies; for small calls it times a round trip of the ``nop``
op (p50, p99).  CPU seconds per GiB add every process involved (client, proxy, gateway,
backend).  Direct and gateway runs alternate, ``--repeat`` times, and the best of each is kept.

Writes JSON (``throughput_ratio`` = gateway / direct, lowest over sizes >= 16 MiB;
``added_p50_us`` = gateway p50 - direct p50 of a small call) and a PNG when matplotlib exists.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
from pathlib import Path
import platform
import resource
import subprocess
import sys
import tempfile
import time

SIZES_MIB = (1, 16, 256)
RESULTS = Path(__file__).parent / 'results'


def _log(msg: str) -> None:
    print(f'[bench.remote {time.strftime("%H:%M:%S")}] {msg}', file=sys.stderr, flush=True)


# -- the measuring client (runs as the program, direct or under `pooling run`) -----------------

def client(mode: str, sizes: list[int], calls: int, reps: int) -> dict:
    import numpy as np

    from pooling_drivers.remoting import simclient

    dev = simclient.devices()[0]
    out: dict = {}
    if mode == 'bulk':
        for mib in sizes:
            n = mib * 1048576
            data = np.frombuffer(os.urandom(1024), dtype=np.uint8)
            data = np.resize(data, n)
            back = np.empty(n, dtype=np.uint8)
            buf = dev.malloc(n)
            dev.htod(buf, data)  # warm up
            h2d = d2h = float('inf')
            for _ in range(reps):
                t = time.perf_counter()
                dev.htod(buf, data)
                h2d = min(h2d, time.perf_counter() - t)
                t = time.perf_counter()
                dev.dtoh(buf, into=back)
                d2h = min(d2h, time.perf_counter() - t)
            if not np.array_equal(back, data):
                raise SystemExit(f'{mib} MiB came back different')
            dev.free(buf)
            out[str(mib)] = {'h2d_MBps': n / h2d / 1e6, 'd2h_MBps': n / d2h / 1e6,
                             'bytes_moved': 2 * n * (reps + 1)}
    else:
        for _ in range(200):
            dev.conn.call('nop')
        samples = []
        for _ in range(calls):
            t = time.perf_counter_ns()
            dev.conn.call('nop')
            samples.append((time.perf_counter_ns() - t) / 1000)
        samples.sort()
        out = {'p50_us': samples[len(samples) // 2],
               'p99_us': samples[min(len(samples) - 1, int(len(samples) * 0.99))],
               'calls': calls}
    return out


# -- the orchestrator -------------------------------------------------------------------------

def _cpu_of(pid: int) -> float:
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


class Setup:
    """Backend + gateway processes and a lease file for `pooling run`."""

    def __init__(self, workdir: str) -> None:
        from pooling.gateway import credentials
        from pooling.gateway import lease as lease_mod
        from pooling.gateway import pki
        from pooling.gateway import server
        from pooling_drivers.remoting import base
        from pooling_drivers.remoting import sim

        self.driver = sim.SimDriver({'run_dir': os.path.join(workdir, 'run'), 'listen': 'tcp'})
        self.backend = self.driver.start(base.RemoteSliceRequest(
            'bench', 'vgpu-bench', ('GPU-bench',), 1024, 100))
        self.backend_pid = self.driver.health('bench').pid
        files = pki.ensure(os.path.join(workdir, 'pki'), ['localhost', '127.0.0.1'])
        conf = os.path.join(workdir, 'gateway.conf')
        with open(conf, 'w') as f:
            f.write(f'[gateway]\ncert_file = {files.cert_file}\nkey_file = {files.key_file}\n')
        control = os.path.join(workdir, 'gateway.ctl')
        self.gateway = subprocess.Popen(
            [sys.executable, '-c', 'import sys; from pooling.gateway.server import main; '
             'sys.exit(main())', '--control', control, '--config-file', conf,
             '--host', '127.0.0.1', '--port', '0'],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        port = int(self.gateway.stdout.readline().split(':')[-1])
        deadline = time.monotonic() + 10
        while not os.path.exists(control):
            if time.monotonic() > deadline:
                raise SystemExit('the gateway did not start')
            time.sleep(0.05)
        cred = credentials.mint()
        answer = server.control(control, 'admit', lease_id='bench', token_sha256=cred.sha256,
                                backend=self.backend.address, max_connections=4,
                                expires_at=cred.expires_at.timestamp())
        if not answer.get('ok'):
            raise SystemExit(f'admit failed: {answer}')
        doc = lease_mod.LeaseDocument('vgpu-bench', 'sim', (lease_mod.LeaseEndpoint(
            f'127.0.0.1:{port}', 'bench'),), cred.token, cred.expires_at, files.ca_pem())
        self.lease_file = os.path.join(workdir, 'lease.json')
        with open(self.lease_file, 'w') as f:
            f.write(doc.to_json())

    def run(self, path: str, mode: str, args) -> tuple[dict, float]:
        """Run the client ``direct`` or ``gateway``; return its result and the CPU it took."""
        client_argv = [sys.executable, '-m', 'bench.remote', '--client', mode,
                       '--sizes', ','.join(map(str, args.sizes)), '--calls', str(args.calls),
                       '--reps', str(args.reps)]
        env = dict(os.environ)
        if path == 'direct':
            env['POOLING_SIM_SERVER'] = self.backend.address
            argv = client_argv
        else:
            argv = [sys.executable, '-m', 'pooling.cmd.run', 'run', '--lease', self.lease_file,
                    '--'] + client_argv
        pids = [self.backend_pid] + ([self.gateway.pid] if path == 'gateway' else [])
        before = sum(_cpu_of(p) for p in pids)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
        if out.returncode != 0:
            raise SystemExit(f'{path} {mode} client failed: {out.stderr[-2000:]}')
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (sum(_cpu_of(p) for p in pids) - before + after.ru_utime - kids.ru_utime
               + after.ru_stime - kids.ru_stime)
        return json.loads(out.stdout.strip().splitlines()[-1]), cpu

    def close(self) -> None:
        self.gateway.terminate()
        self.gateway.wait()
        self.driver.stop_all()


def measure(args) -> dict:
    with tempfile.TemporaryDirectory(prefix='bench-remote-') as workdir:
        setup = Setup(workdir)
        try:
            best: dict = {'direct': {}, 'gateway': {}}
            cpu: dict = {'direct': [], 'gateway': []}
            for rep in range(args.repeat):
                for path in ('direct', 'gateway'):
                    _log(f'round {rep + 1}/{args.repeat}: {path} bulk copies '
                         f'{"/".join(map(str, args.sizes))} MiB')
                    bulk, used = setup.run(path, 'bulk', args)
                    moved = sum(v['bytes_moved'] for v in bulk.values())
                    cpu[path].append(used / (moved / 2 ** 30))
                    _log(f'round {rep + 1}/{args.repeat}: {path} {args.calls} small calls')
                    small, _ = setup.run(path, 'small', args)
                    for mib, row in bulk.items():
                        keep = best[path].setdefault(mib, row)
                        for key in ('h2d_MBps', 'd2h_MBps'):
                            keep[key] = max(keep[key], row[key])
                    keep = best[path].setdefault('small', small)
                    for key in ('p50_us', 'p99_us'):
                        keep[key] = min(keep[key], small[key])
                    _log(f'  {path}: ' + ', '.join(
                        f'{m} MiB {min(r["h2d_MBps"], r["d2h_MBps"]):.0f} MB/s'
                        for m, r in bulk.items()) + f'; small p50 {small["p50_us"]:.0f} us')
        finally:
            setup.close()
    sizes = {}
    for mib in map(str, args.sizes):
        d, g = best['direct'][mib], best['gateway'][mib]
        d_rate = (d['h2d_MBps'] + d['d2h_MBps']) / 2
        g_rate = (g['h2d_MBps'] + g['d2h_MBps']) / 2
        sizes[mib] = {'direct': d, 'gateway': g, 'direct_MBps': round(d_rate, 1),
                      'gateway_MBps': round(g_rate, 1), 'ratio': round(g_rate / d_rate, 3)}
    big = [row['ratio'] for mib, row in sizes.items() if int(mib) >= 16]
    ds, gs = best['direct']['small'], best['gateway']['small']
    result = {
        'benchmark': 'remote', 'when': datetime.datetime.now(datetime.timezone.utc).isoformat(),
        'machine': {'cpus': os.cpu_count(), 'python': platform.python_version(),
                    'platform': platform.platform(),
                    'loadavg_at_start': os.getloadavg()},
        'repeat': args.repeat, 'reps_per_size': args.reps,
        'sizes_mib': sizes,
        'small_calls': {'direct_p50_us': round(ds['p50_us'], 1),
                        'direct_p99_us': round(ds['p99_us'], 1),
                        'gateway_p50_us': round(gs['p50_us'], 1),
                        'gateway_p99_us': round(gs['p99_us'], 1), 'calls': args.calls},
        'cpu_s_per_gib': {k: round(min(v), 3) for k, v in cpu.items()},
        'throughput_ratio': round(min(big), 3) if big else None,
        'added_p50_us': round(gs['p50_us'] - ds['p50_us'], 1),
        'targets': {'throughput_ratio_min': 0.8, 'added_p50_us_max': 150},
    }
    result['targets']['met'] = bool(big) and result['throughput_ratio'] >= 0.8 \
        and result['added_p50_us'] <= 150
    return result


def plot(result: dict, path: Path) -> Path | None:
    try:
        import matplotlib
    except ImportError:
        _log('matplotlib is not installed: no PNG')
        return None
    matplotlib.use('Agg')
    from matplotlib import pyplot

    fig, (bw, lat) = pyplot.subplots(1, 2, figsize=(11, 4.5))
    sizes = list(result['sizes_mib'])
    xs = range(len(sizes))
    bw.bar([x - 0.2 for x in xs], [result['sizes_mib'][s]['direct_MBps'] for s in sizes], 0.4,
           label='direct')
    bw.bar([x + 0.2 for x in xs], [result['sizes_mib'][s]['gateway_MBps'] for s in sizes], 0.4,
           label='proxy + TLS gateway')
    bw.set_xticks(list(xs), [f'{s} MiB' for s in sizes])
    bw.set_ylabel('MB/s (mean of h2d and d2h)')
    bw.set_title(f'bulk copies (ratio >= 16 MiB: {result["throughput_ratio"]})')
    bw.legend()
    sc = result['small_calls']
    lat.bar([0 - 0.2, 1 - 0.2], [sc['direct_p50_us'], sc['direct_p99_us']], 0.4, label='direct')
    lat.bar([0 + 0.2, 1 + 0.2], [sc['gateway_p50_us'], sc['gateway_p99_us']], 0.4,
            label='proxy + TLS gateway')
    lat.set_xticks([0, 1], ['p50', 'p99'])
    lat.set_ylabel('microseconds per small call')
    lat.set_title(f'small calls (added p50: {result["added_p50_us"]} us)')
    lat.legend()
    fig.suptitle(f'remote data plane, sim backend on loopback ({result["machine"]["cpus"]} CPUs)')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    pyplot.close(fig)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--json', type=Path, default=RESULTS / 'remote.json')
    parser.add_argument('--png', type=Path, default=RESULTS / 'remote.png')
    parser.add_argument('--repeat', type=int, default=3, help='alternating rounds (3)')
    parser.add_argument('--reps', type=int, default=3, help='copies per size per round (3)')
    parser.add_argument('--calls', type=int, default=5000, help='small calls per round (5000)')
    parser.add_argument('--sizes', default=','.join(map(str, SIZES_MIB)))
    parser.add_argument('--client', choices=('bulk', 'small'), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.sizes = [int(s) for s in str(args.sizes).split(',') if s]
    if args.client:
        print(json.dumps(client(args.client, args.sizes, args.calls, args.reps)))
        return 0
    result = measure(args)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + '\n')
    _log(f'wrote {args.json}')
    if plot(result, args.png):
        _log(f'wrote {args.png}')
    for mib, row in result['sizes_mib'].items():
        print(f'{mib:>4} MiB  direct {row["direct_MBps"]:8.1f} MB/s  gateway '
              f'{row["gateway_MBps"]:8.1f} MB/s  ratio {row["ratio"]:.3f}')
    sc = result['small_calls']
    print(f'small call p50 direct {sc["direct_p50_us"]} us, gateway {sc["gateway_p50_us"]} us '
          f'(added {result["added_p50_us"]} us); p99 {sc["direct_p99_us"]} / '
          f'{sc["gateway_p99_us"]} us')
    print(f'CPU s per GiB: {result["cpu_s_per_gib"]}; throughput_ratio '
          f'{result["throughput_ratio"]}; targets met: {result["targets"]["met"]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
