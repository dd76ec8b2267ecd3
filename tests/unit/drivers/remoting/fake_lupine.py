#!/usr/bin/env python3
"""STAND-IN for LUPINE's ``lupine_driver_server`` -- not LUPINE, and holds none of its code.

CI has no GPU and the project never ships LUPINE, so the supervisor, the network-namespace
confinement, the relay and the gateway are tested against this executable, which behaves the way
the reference page records the real server (accelerators-and-remoting.md, section 3.4):

* reads ``LUPINE_PORT`` (default 14833), binds ``0.0.0.0`` (IPv4, every address, like LUPINE),
  prints ``Server listening on port N``;
* speaks HTTP/2 with prior knowledge (``h2`` does the protocol): on ``POST /`` it answers 200
  with ``x-lupine-cuda-version``; it then echoes each DATA frame on the same stream (the real
  server answers API calls there; an echo lets tests check bytes end to end);
* ``--version`` prints ``lupine <FAKE_LUPINE_VERSION or 0.9.0-fake>``.

Test knobs (environment): ``FAKE_LUPINE_EXIT=<code>`` exits at once with that code (a crash
loop), ``FAKE_LUPINE_EXIT_AFTER=<s>`` exits with 3 after ``s`` seconds.  The answer carries
``x-fake-visible-devices`` = ``CUDA_VISIBLE_DEVICES`` so tests can see the slice's environment.
"""

import os
import socket
import sys
import threading
import time

import h2.config
import h2.connection
import h2.events


def serve(conn: socket.socket) -> None:
    h2conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False,
                                                                  header_encoding='utf-8'))
    h2conn.initiate_connection()
    conn.sendall(h2conn.data_to_send())
    try:
        while True:
            data = conn.recv(65536)
            if not data:
                return
            for event in h2conn.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    headers = dict(event.headers)
                    status = '200' if headers.get(':authority') == 'lupine' else '400'
                    h2conn.send_headers(event.stream_id, [
                        (':status', status), ('x-lupine-cuda-version', '12040'),
                        ('x-fake-visible-devices', os.environ.get('CUDA_VISIBLE_DEVICES', '')),
                        ('x-fake-stand-in', 'yes')])
                elif isinstance(event, h2.events.DataReceived):
                    h2conn.acknowledge_received_data(event.flow_controlled_length,
                                                     event.stream_id)
                    if event.data:
                        h2conn.send_data(event.stream_id, event.data)
                elif isinstance(event, h2.events.StreamEnded):
                    h2conn.end_stream(event.stream_id)
            out = h2conn.data_to_send()
            if out:
                conn.sendall(out)
    except (OSError, h2.exceptions.ProtocolError):
        return
    finally:
        conn.close()


def main() -> int:
    if '--version' in sys.argv[1:]:
        print('lupine', os.environ.get('FAKE_LUPINE_VERSION', '0.9.0-fake'))
        return 0
    if os.environ.get('FAKE_LUPINE_EXIT'):
        print('fake lupine: crashing as asked', flush=True)
        return int(os.environ['FAKE_LUPINE_EXIT'])
    port = int(os.environ.get('LUPINE_PORT', '14833'))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(('0.0.0.0', port))
    listener.listen(64)
    print(f'Server listening on port {listener.getsockname()[1]}', flush=True)
    if os.environ.get('FAKE_LUPINE_EXIT_AFTER'):
        delay = float(os.environ['FAKE_LUPINE_EXIT_AFTER'])
        threading.Thread(target=lambda: (time.sleep(delay), os._exit(3)), daemon=True).start()
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == '__main__':
    sys.exit(main())
