"""Wire format of the simulated cards' data plane (``sim`` remoting backend).

A message is ``!IQ`` (JSON header length, payload length), the JSON header, then the raw payload
(bulk copies travel unencoded).  Requests carry ``{"op": ...}``; answers ``{"ok": true, ...}`` or
``{"ok": false, "code": ..., "error": ...}``.  Ops:

=========  ===========================================  ======================================
op         request                                      answer
=========  ===========================================  ======================================
hello      --                                           devices: [{index, uuid, memory_mib,
                                                        compute_pct}], server
mem_info   device                                       free, total (bytes)
malloc     device, nbytes                               ptr
free       ptr                                          --
htod       ptr, offset; payload = bytes                 --
dtoh       ptr, offset, nbytes                          payload = bytes
saxpy      a, x, y, n (float32: y = a*x + y)            kernel_s
matmul     a, b, c, m, k, n (float32: C = A @ B)        kernel_s
nop        --                                           -- (for latency measurements)
stats      --                                           counters (a control connection: its own
                                                        bytes are not counted)
=========  ===========================================  ======================================
"""

from __future__ import annotations

import json
import socket
import struct

HEADER = struct.Struct('!IQ')
MAX_JSON = 65536
VERSION = 'pooling-sim/1'


class ProtocolError(Exception):
    """The peer broke the framing."""


def recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray(n)
    recv_into_exact(sock, memoryview(buf))
    return bytes(buf)


def recv_into_exact(sock: socket.socket, view: memoryview) -> int:
    """Fill ``view`` from ``sock``; return bytes read. :raises ConnectionError: EOF first."""
    got = 0
    total = len(view)
    while got < total:
        n = sock.recv_into(view[got:], min(total - got, 4 * 1048576))
        if n == 0:
            raise ConnectionError('connection closed')
        got += n
    return got


def read_message(sock: socket.socket) -> tuple[dict, int]:
    """Read a header; return ``(json, payload length)``; the payload is left on the socket."""
    jlen, plen = HEADER.unpack(recv_exact(sock, HEADER.size))
    if jlen > MAX_JSON:
        raise ProtocolError(f'header of {jlen} bytes is too long')
    try:
        head = json.loads(recv_exact(sock, jlen))
    except ValueError as exc:
        raise ProtocolError(f'bad JSON header: {exc}') from exc
    if not isinstance(head, dict):
        raise ProtocolError('a header is a JSON object')
    return head, plen


def send_message(sock: socket.socket, head: dict, payload=None) -> int:
    """Send one message; return the bytes written."""
    body = json.dumps(head, separators=(',', ':')).encode()
    plen = len(payload) if payload is not None else 0
    first = HEADER.pack(len(body), plen) + body
    if payload is not None and plen <= 65536:
        sock.sendall(first + bytes(payload))
    else:
        sock.sendall(first)
        if payload is not None:
            sock.sendall(payload)
    return len(first) + plen
