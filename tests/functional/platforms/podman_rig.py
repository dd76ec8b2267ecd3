"""A real OCI runtime for CDI tests: podman + runc from Debian, a busybox rootfs, no image pull.

Podman 4.3 reads CDI specs only from ``/etc/cdi`` and ``/var/run/cdi`` (no setting moves them),
so every run happens in a private mount namespace with a tmpfs over ``/run/cdi`` into which the
test copies the specs it wants podman to see: the host's spec directories are never touched
(only an empty ``/run/cdi`` mount point is created when the host lacks one).  Device nodes of the
simulated GPUs are stand-ins: character devices 1,3 (the kernel's null device) made with
``mknod`` under a private ``dev_root``, which the cdi driver prefixes to ``hostPath``.
"""

import os
import shlex
import shutil
import subprocess

BUSYBOX_APPLETS = ('sh', 'ls', 'cat', 'env', 'id', 'echo', 'stat', 'grep', 'test')


def missing() -> str:
    """Why the rig cannot run here ('' when it can)."""
    for tool in ('podman', 'runc', 'unshare', 'busybox'):
        if shutil.which(tool) is None and not os.path.exists(f'/usr/sbin/{tool}'):
            return f'{tool} not installed (tools/ci-deps.sh installs podman runc busybox-static)'
    if os.geteuid() != 0:
        return 'needs root (private mount namespace, mknod)'
    return ''


def make_rootfs(path) -> str:
    """A container root with busybox and its applets, built from the host's static busybox."""
    path = str(path)
    for d in ('bin', 'dev', 'proc', 'sys', 'tmp', 'etc', 'run'):
        os.makedirs(os.path.join(path, d), exist_ok=True)
    shutil.copy(shutil.which('busybox'), os.path.join(path, 'bin', 'busybox'))
    for applet in BUSYBOX_APPLETS:
        link = os.path.join(path, 'bin', applet)
        if not os.path.lexists(link):
            os.symlink('busybox', link)
    return path


def make_dev_root(path, nodes) -> str:
    """Stand-in device nodes (char 1,3) at ``path`` + each node path."""
    path = str(path)
    for node in nodes:
        target = os.path.join(path, node.lstrip('/'))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            os.mknod(target, 0o666 | 0o020000, os.makedev(1, 3))
    return path


def run(rootfs, specs, devices, script, timeout=120) -> subprocess.CompletedProcess:
    """Run ``script`` in a busybox container asking for CDI ``devices``, seeing only ``specs``.

    :returns: the finished process (podman's exit status, stdout, stderr).
    """
    os.makedirs('/run/cdi', exist_ok=True)
    podman = ['podman', '--runtime', 'runc', '--cgroup-manager=cgroupfs',
              '--events-backend=file', 'run', '--rm', '--network=none',
              # NOTE: without CAP_SYS_RESOURCE podman's default rlimits fail in setrlimit.
              '--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=4096:4096']
    for device in devices:
        podman += ['--device', device]
    podman += ['--rootfs', str(rootfs), '/bin/sh', '-c', script]
    copy = ' && '.join(f'cp {shlex.quote(str(s))} /run/cdi/' for s in specs) or 'true'
    inner = (f'mount --make-rprivate / && mount -t tmpfs pooling-cdi /run/cdi && {copy} && '
             + shlex.join(podman))
    return subprocess.run(['unshare', '-m', 'sh', '-c', inner], capture_output=True,
                          text=True, timeout=timeout)
