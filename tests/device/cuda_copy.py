#!/usr/bin/env python3
"""Time a host->device and device->host copy through the CUDA driver API (ctypes on libcuda.so.1).

Run plainly it uses the host's libcuda; under ``pooling run`` on a ``lupine`` lease the loader
finds LUPINE's client shim first (``LD_LIBRARY_PATH``), so the same calls go to the remote GPU.
Prints one JSON line: ``{"mib", "h2d_MBps", "d2h_MBps", "ok"}``; exits non-zero on a CUDA error or
a wrong copy.
"""

import ctypes
import json
import os
import sys
import time


def main() -> int:
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    n = mib * 1048576
    cuda = ctypes.CDLL('libcuda.so.1')

    def check(name, *args):
        rc = getattr(cuda, name)(*args)
        if rc != 0:
            print(json.dumps({'error': f'{name} returned {rc}'}))
            sys.exit(3)

    check('cuInit', ctypes.c_uint(0))
    dev = ctypes.c_int()
    check('cuDeviceGet', ctypes.byref(dev), ctypes.c_int(0))
    ctx = ctypes.c_void_p()
    check('cuCtxCreate_v2', ctypes.byref(ctx), ctypes.c_uint(0), dev)
    dptr = ctypes.c_uint64()
    check('cuMemAlloc_v2', ctypes.byref(dptr), ctypes.c_size_t(n))
    src = (ctypes.c_ubyte * n).from_buffer(bytearray(os.urandom(1 << 20) * mib))
    dst = (ctypes.c_ubyte * n)()
    best_h2d = best_d2h = float('inf')
    for _ in range(3):
        t = time.perf_counter()
        check('cuMemcpyHtoD_v2', dptr, src, ctypes.c_size_t(n))
        best_h2d = min(best_h2d, time.perf_counter() - t)
        t = time.perf_counter()
        check('cuMemcpyDtoH_v2', dst, dptr, ctypes.c_size_t(n))
        best_d2h = min(best_d2h, time.perf_counter() - t)
    ok = bytes(src) == bytes(dst)
    check('cuMemFree_v2', dptr)
    check('cuCtxDestroy_v2', ctx)
    print(json.dumps({'mib': mib, 'h2d_MBps': n / best_h2d / 1e6, 'd2h_MBps': n / best_d2h / 1e6,
                      'ok': ok}))
    return 0 if ok else 2


if __name__ == '__main__':
    sys.exit(main())
