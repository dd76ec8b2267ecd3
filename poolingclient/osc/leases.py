"""``openstack accelerator vgpu lease ...``: the lease of a remote vGPU.

A remote vGPU is reached through its device hosts' gateways with a per-vGPU
credential. ``lease show`` shows the lease (gateways, expiry, CA) without the
credential; ``--credential`` asks for a fresh one (the previous one stops
working) and ``--file`` writes the whole lease document, credential included,
for ``pooling run --lease FILE`` (mode 0600). The credential is never printed
in a table unless asked for.
"""

import json
import os

from osc_lib.command import command

from poolingclient.osc import common


def _rows(lease: dict, show_token: bool):
    shown = dict(lease)
    shown["gateways"] = [e["gateway"] for e in lease.get("endpoints", [])]
    shown.pop("ca_cert", None)
    if not show_token:
        shown.pop("token", None)
    return common.show(shown)


def _write(path: str, lease: dict) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(lease, handle, indent=2, sort_keys=True)


class ShowLease(command.ShowOne):
    """Show the lease of a remote vGPU; with --credential, issue a fresh credential."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("vgpu", metavar="<vgpu>", help="vGPU (name or UUID)")
        parser.add_argument(
            "--credential",
            action="store_true",
            default=False,
            help="Issue a fresh credential and show it (the previous one stops working)",
        )
        parser.add_argument(
            "--file",
            metavar="<path>",
            help="Write the lease document with a fresh credential to this file (mode 0600) "
            "for 'pooling run --lease <path>'",
        )
        return parser

    def take_action(self, parsed_args):
        client = common.client(self)
        uuid = client.find_vgpu(parsed_args.vgpu)["uuid"]
        if parsed_args.credential or parsed_args.file:
            lease = client.issue_lease(uuid)
            if parsed_args.file:
                _write(parsed_args.file, lease)
        else:
            lease = client.get_lease(uuid)
        return _rows(lease, parsed_args.credential)


class RenewLease(command.ShowOne):
    """Renew the live credential of a remote vGPU (it lives another lifetime)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("vgpu", metavar="<vgpu>", help="vGPU (name or UUID)")
        return parser

    def take_action(self, parsed_args):
        client = common.client(self)
        return _rows(client.renew_lease(client.find_vgpu(parsed_args.vgpu)["uuid"]), False)


class RevokeLease(command.Command):
    """Revoke the credential of a remote vGPU; its connections are cut."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("vgpu", metavar="<vgpu>", help="vGPU (name or UUID)")
        return parser

    def take_action(self, parsed_args):
        client = common.client(self)
        client.revoke_lease(client.find_vgpu(parsed_args.vgpu)["uuid"])
