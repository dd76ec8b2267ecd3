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
#: ``name=pid,...`` of the long-running stages, for the client's CPU accounting.
PIDS_ENV = 'BENCH_REMOTE_PIDS'


def _log(msg: str) -> None:
    print(f'[bench.remote {time.strftime("%H:%M:%S")}] {msg}', file=sys.stderr, flush=True)


# -- the measuring client (runs as the program, direct or under `pooling run`) -----------------

def _stage_cpu() -> dict:
    """CPU seconds so far of every stage: this client, and the pids the orchestrator named."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = {'client': usage.ru_utime + usage.ru_stime}
    for item in filter(None, os.environ.get(PIDS_ENV, '').split(',')):
        name, _, pid = item.partition('=')
        cpu[name] = _cpu_of(os.getppid() if pid == 'parent' else int(pid))
    return cpu


def client(mode: str, sizes: list[int], calls: int, reps: int) -> dict:
    import numpy as np

    from pooling_drivers.remoting import simclient

    dev = simclient.devices()[0]
    out: dict = {}
    if mode == 'bulk':
        cpu: dict = {}
        for mib in sizes:
            n = mib * 1048576
            data = np.frombuffer(os.urandom(1024), dtype=np.uint8)
            data = np.resize(data, n)
            back = np.empty(n, dtype=np.uint8)
            buf = dev.malloc(n)
            before = _stage_cpu()
            dev.htod(buf, data)  # warm up
            h2d = d2h = float('inf')
            for _ in range(reps):
                t = time.perf_counter()
                dev.htod(buf, data)
                h2d = min(h2d, time.perf_counter() - t)
                t = time.perf_counter()
                dev.dtoh(buf, into=back)
                d2h = min(d2h, time.perf_counter() - t)
            after = _stage_cpu()
            for name in after:
                cpu[name] = cpu.get(name, 0.0) + after[name] - before[name]
            if not np.array_equal(back, data):
                raise SystemExit(f'{mib} MiB came back different')
            dev.free(buf)
            out[str(mib)] = {'h2d_MBps': n / h2d / 1e6, 'd2h_MBps': n / d2h / 1e6,
                             'bytes_moved': n * (2 * reps + 1)}
        out['cpu_s'] = cpu
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

    def __init__(self, workdir: str, gateway_leg: str = 'unix') -> None:
        from pooling.gateway import credentials
        from pooling.gateway import lease as lease_mod
        from pooling.gateway import pki
        from pooling.gateway import server

        # The backend the sim plugin runs (same module, same options), listening on a unix
        # socket -- what the gateway reaches in production -- and on a loopback port for the
        # direct runs.  ``--gateway-leg tcp`` points the gateway at the port instead.
        sock = os.path.join(workdir, 'sim-bench.sock')
        self.backend = subprocess.Popen(
            [sys.executable, '-m', 'pooling_drivers.remoting.simserver', '--listen',
             f'unix:{sock}', '--listen', '127.0.0.1:0', '--devices', 'GPU-bench',
             '--memory-mib', '1024'], stdout=subprocess.PIPE, text=True)
        unix_address = self.backend.stdout.readline().split()[-1]
        self.backend_tcp = self.backend.stdout.readline().split()[-1]
        self.backend_pid = self.backend.pid
        backend_address = unix_address if gateway_leg == 'unix' else self.backend_tcp
        files = pki.ensure(os.path.join(workdir, 'pki'), ['localhost', '127.0.0.1'])
        self.pki_files = files
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
                                backend=backend_address, max_connections=4,
                                expires_at=cred.expires_at.timestamp())
        if not answer.get('ok'):
            raise SystemExit(f'admit failed: {answer}')
        doc = lease_mod.LeaseDocument('vgpu-bench', 'sim', (lease_mod.LeaseEndpoint(
            f'127.0.0.1:{port}', 'bench'),), cred.token, cred.expires_at, files.ca_pem())
        self.lease_file = os.path.join(workdir, 'lease.json')
        with open(self.lease_file, 'w') as f:
            f.write(doc.to_json())

    def run(self, path: str, mode: str, args) -> dict:
        """Run the client ``direct`` or ``gateway``; return its result."""
        client_argv = [sys.executable, '-m', 'bench.remote', '--client', mode,
                       '--sizes', ','.join(map(str, args.sizes)), '--calls', str(args.calls),
                       '--reps', str(args.reps)]
        env = dict(os.environ)
        if path == 'direct':
            env['POOLING_SIM_SERVER'] = self.backend_tcp
            env[PIDS_ENV] = f'backend={self.backend_pid}'
            argv = client_argv
        else:
            env[PIDS_ENV] = f'backend={self.backend_pid},gateway={self.gateway.pid},proxy=parent'
            argv = [sys.executable, '-m', 'pooling.cmd.run', 'run', '--lease', self.lease_file,
                    '--'] + client_argv
        out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
        if out.returncode != 0:
            raise SystemExit(f'{path} {mode} client failed: {out.stderr[-2000:]}')
        return json.loads(out.stdout.strip().splitlines()[-1])

    def close(self) -> None:
        self.gateway.terminate()
        self.gateway.wait()
        self.backend.terminate()
        self.backend.wait()


def _per_gib(bulk: dict) -> dict:
    """CPU seconds per GiB moved, per stage and in all, of one bulk run."""
    moved = sum(v['bytes_moved'] for k, v in bulk.items() if k != 'cpu_s') / 2 ** 30
    stages = {name: round(cpu / moved, 3) for name, cpu in bulk.pop('cpu_s').items()}
    return {'total': round(sum(stages.values()), 3), 'stages': stages}


def _bound_mbps(cpu: dict, cores: float | None) -> float:
    """MB/s the CPU cost allows: every stage on a core of its own (``cores`` None), or all
    stages sharing ``cores`` perfectly (and still no faster than the busiest stage)."""
    per_byte = [s / 2 ** 30 for s in cpu['stages'].values()]
    rate = 1 / max(per_byte)
    if cores is not None:
        rate = min(rate, cores / sum(per_byte))
    return round(rate / 1e6, 1)


def tls_cost(files, mib: int = 256) -> dict:
    """CPU seconds per GiB of TLS alone, in memory: the gateway's contexts, its memory-BIO way of
    encrypting (one write of a MiB, one read of the records) and decrypting (one write of the
    records, a read per record into a reused buffer) -- no socket, no other process."""
    import ssl

    from pooling.gateway import proxy
    from pooling.gateway import server

    bios = [ssl.MemoryBIO() for _ in range(4)]
    client = proxy.client_context(files.ca_pem()).wrap_bio(
        bios[0], bios[1], server_side=False, server_hostname='localhost')
    gw = server.server_context(files.cert_file, files.key_file).wrap_bio(
        bios[2], bios[3], server_side=True)
    for _ in range(10):  # handshake, shuttling the records by hand
        for end in (client, gw):
            try:
                end.do_handshake()
            except ssl.SSLWantReadError:
                pass
        if bios[1].pending:
            bios[2].write(bios[1].read())
        if bios[3].pending:
            bios[0].write(bios[3].read())
    data = memoryview(os.urandom(1048576))
    plain = memoryview(bytearray(1048576))
    enc = dec = 0.0
    for _ in range(mib):
        t = time.process_time()
        client.write(data)
        records = bios[1].read()
        enc += time.process_time() - t
        t = time.process_time()
        bios[2].write(records)
        got = 0
        while got < len(plain):
            got += gw.read(len(plain) - got, plain[got:])
        dec += time.process_time() - t
    return {'cipher': client.cipher()[0], 'encrypt': round(enc * 1024 / mib, 3),
            'decrypt': round(dec * 1024 / mib, 3)}


def measure(args) -> dict:
    with tempfile.TemporaryDirectory(prefix='bench-remote-') as workdir:
        setup = Setup(workdir, args.gateway_leg)
        try:
            tls_alone = tls_cost(setup.pki_files)
            _log(f'TLS alone, in memory: {tls_alone} CPU s per GiB')
            best: dict = {'direct': {}, 'gateway': {}}
            cpu: dict = {'direct': [], 'gateway': []}
            rounds: list = []
            for rep in range(args.repeat):
                rounds.append({})
                for path in ('direct', 'gateway'):
                    _log(f'round {rep + 1}/{args.repeat}: {path} bulk copies '
                         f'{"/".join(map(str, args.sizes))} MiB')
                    bulk = setup.run(path, 'bulk', args)
                    cpu[path].append(_per_gib(bulk))
                    _log(f'round {rep + 1}/{args.repeat}: {path} {args.calls} small calls')
                    small = setup.run(path, 'small', args)
                    rounds[-1][path] = {mib: round((r['h2d_MBps'] + r['d2h_MBps']) / 2, 1)
                                        for mib, r in bulk.items()}
                    rounds[-1][path]['p50_us'] = round(small['p50_us'], 1)
                    rounds[-1][path]['cpu_s_per_gib'] = cpu[path][-1]['total']
                    for mib, row in bulk.items():
                        keep = best[path].setdefault(mib, row)
                        for key in ('h2d_MBps', 'd2h_MBps'):
                            keep[key] = max(keep[key], row[key])
                    keep = best[path].setdefault('small', small)
                    for key in ('p50_us', 'p99_us'):
                        keep[key] = min(keep[key], small[key])
                    _log(f'  {path}: ' + ', '.join(
                        f'{m} MiB {min(r["h2d_MBps"], r["d2h_MBps"]):.0f} MB/s'
                        for m, r in bulk.items()) + f'; small p50 {small["p50_us"]:.0f} us; '
                        f'CPU {cpu[path][-1]["total"]:.2f} s/GiB {cpu[path][-1]["stages"]}')
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
    least = {path: min(runs, key=lambda c: c['total']) for path, runs in cpu.items()}
    cores = os.cpu_count() or 1
    bounds = {path: {f'{cores}_cores_MBps': _bound_mbps(c, cores),
                     'core_per_stage_MBps': _bound_mbps(c, None)} for path, c in least.items()}
    # NOTE: the best any gateway could do on this CPU: the direct path's own stages plus
    # nothing but the TLS work (encrypt at the proxy, decrypt at the gateway), no copy, no
    # relay, no syscall. A measured ratio near it means the rest costs little; a target above
    # it cannot be met with TLS on this CPU whatever the implementation.
    floor = {'stages': dict(least['direct']['stages'], tls_encrypt=tls_alone['encrypt'],
                            tls_decrypt=tls_alone['decrypt'])}
    bounds['tls_only'] = {f'{cores}_cores_MBps': _bound_mbps(floor, cores),
                          'core_per_stage_MBps': _bound_mbps(floor, None)}
    for key in (f'{cores}_cores_MBps', 'core_per_stage_MBps'):
        bounds[f'ratio_{key.removesuffix("_MBps")}'] = round(
            bounds['gateway'][key] / bounds['direct'][key], 3)
        bounds[f'tls_only_ratio_{key.removesuffix("_MBps")}'] = round(
            bounds['tls_only'][key] / bounds['direct'][key], 3)
    result = {
        'benchmark': 'remote', 'when': datetime.datetime.now(datetime.timezone.utc).isoformat(),
        'machine': {'cpus': os.cpu_count(), 'python': platform.python_version(),
                    'platform': platform.platform(),
                    'loadavg_at_start': os.getloadavg()},
        'repeat': args.repeat, 'reps_per_size': args.reps, 'gateway_leg': args.gateway_leg,
        'sizes_mib': sizes,
        'small_calls': {'direct_p50_us': round(ds['p50_us'], 1),
                        'direct_p99_us': round(ds['p99_us'], 1),
                        'gateway_p50_us': round(gs['p50_us'], 1),
                        'gateway_p99_us': round(gs['p99_us'], 1), 'calls': args.calls},
        'cpu_s_per_gib': {path: c['total'] for path, c in least.items()},
        'cpu_s_per_gib_by_stage': {path: c['stages'] for path, c in least.items()},
        'cpu_bound': bounds,
        'tls_in_memory_s_per_gib': tls_alone,
        'rounds': rounds,
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

    fig, (bw, lat, cpu) = pyplot.subplots(1, 3, figsize=(15, 4.5))
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
    stages = result['cpu_s_per_gib_by_stage']
    paths = list(stages)
    names = sorted({n for per in stages.values() for n in per},
                   key=('client', 'proxy', 'gateway', 'backend').index)
    bottom = [0.0] * len(paths)
    for name in names:
        vals = [stages[p].get(name, 0.0) for p in paths]
        cpu.bar(paths, vals, 0.5, bottom=bottom, label=name)
        bottom = [b + v for b, v in zip(bottom, vals)]
    cpu.set_ylabel('CPU seconds per GiB moved')
    cores = result['machine']['cpus']
    bound = result['cpu_bound']['gateway'][f'{cores}_cores_MBps']
    cpu.set_title(f'CPU per GiB moved (gateway path at most {bound:.0f} MB/s on {cores} cores)')
    cpu.legend()
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
    parser.add_argument('--gateway-leg', choices=('unix', 'tcp'), default='unix',
                        help='how the gateway reaches the backend: its unix socket, as the sim '
                             'plugin runs it (default), or its loopback port')
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
    print(f'CPU s per GiB by stage: {result["cpu_s_per_gib_by_stage"]}')
    print(f'CPU-bound MB/s: {result["cpu_bound"]}')
    print(f'CPU s per GiB: {result["cpu_s_per_gib"]}; throughput_ratio '
          f'{result["throughput_ratio"]}; targets met: {result["targets"]["met"]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
