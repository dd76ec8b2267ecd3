"""``openstack accelerator vgpu ...``: the tenant's own vGPUs.

A vGPU is asked for either by profile or by shape (compute %, memory, count);
the API claims capacity synchronously, so ``create`` answers SCHEDULED at once
and ``--wait`` follows it to ACTIVE.
"""

import time
import types
import warnings

from osc_lib import utils as osc_utils
from osc_lib.cli import parseractions
from osc_lib.command import command

from poolingclient import exceptions
from poolingclient.osc import common

LOCALITIES = ["local", "remote-allowed", "remote-required"]
ISOLATIONS = ["hard", "firm", "soft", "none"]
LINKS = ["nvlink", "pcie_switch", "pcie_hostbridge", "numa"]

VGPU_FIELDS = [
    ("UUID", "uuid"),
    ("Name", "name"),
    ("State", "state"),
    ("Compute %", "compute_percent"),
    ("Memory (MB)", "memory_mb"),
    ("Count", "count"),
    ("Locality", "locality"),
    ("Host/Device", "where"),
    ("Consumer", "consumer_text"),
]
VGPU_LONG = [
    ("Profile", "profile"),
    ("Isolation", "isolation"),
    ("Link", "link"),
    ("Models", "models"),
    ("Project", "project_id"),
    ("State Reason", "state_reason"),
    ("Created At", "created_at"),
]

#: Nested fields shown as readable lines rather than one long repr.
NESTED = ("slices", "attachment", "consumer", "lease", "moves")

# NOTE: how long --wait follows a vGPU, and how often it asks.
WAIT_TIMEOUT = 300
WAIT_INTERVAL = 1.0


def _wait(
    client, uuid: str, done: set, timeout: float = WAIT_TIMEOUT, progress=None
) -> dict | None:
    """Follow the vGPU with osc-lib's wait_for_status until its state is in ``done``.

    Returns the vGPU, or None once it is gone (a deleted vGPU may vanish).
    ``status_f`` adds what osc-lib's loop lacks: a deadline, "gone" as a
    state, and one line on ``progress`` (a text stream) at each change of
    state, with the seconds waited so far.
    """
    start = time.monotonic()
    deadline = start + timeout
    last = {}

    def status_f(res_id):
        try:
            vgpu = last["vgpu"] = client.get_vgpu(res_id)
        except exceptions.NotFound:
            last["vgpu"] = None
            return types.SimpleNamespace(state="gone")
        state = vgpu.get("state") or ""
        if progress is not None and state != last.get("state"):
            reason = f" ({vgpu['state_reason']})" if vgpu.get("state_reason") else ""
            progress.write(
                f"vGPU {uuid}: {state}{reason} after {time.monotonic() - start:.0f} s\n"
            )
            progress.flush()
        last["state"] = state
        if state not in done and state != "ERROR" and time.monotonic() >= deadline:
            raise exceptions.CommandError(f"vGPU {uuid} is still {state} after {timeout} s")
        return types.SimpleNamespace(state=state)

    with warnings.catch_warnings():
        # NOTE: osc-lib marks the helper deprecated for openstacksdk clients;
        # this client is not one.
        warnings.simplefilter("ignore", DeprecationWarning)
        ok = osc_utils.wait_for_status(
            status_f, uuid, status_field="state",
            success_status=[s.lower() for s in done] + ["gone"],
            error_status=["error"], sleep_time=WAIT_INTERVAL)
    vgpu = last.get("vgpu")
    if not ok:
        raise exceptions.CommandError(
            f"vGPU {uuid} went to ERROR: {(vgpu or {}).get('state_reason') or 'no reason given'}"
        )
    return vgpu


def _timeout_arg(parser) -> None:
    parser.add_argument(
        "--timeout",
        metavar="<seconds>",
        type=int,
        default=WAIT_TIMEOUT,
        help=f"How long --wait waits before it fails (default {WAIT_TIMEOUT})",
    )


def add_link_option(parser, of):
    """``--link`` of ``vgpu create`` and ``vgpu profile create`` (microversion 1.4)."""
    parser.add_argument(
        "--link",
        metavar="<link>",
        choices=LINKS,
        help=f"Worst link the cards of {of} may share (best first): "
        + ", ".join(LINKS) + " (microversion 1.4)",
    )


class CreateVgpu(command.ShowOne):
    """Create a vGPU from a profile or from a shape."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("name", metavar="<name>", help="Name of the new vGPU")
        parser.add_argument(
            "--profile", metavar="<profile>", help="Profile that gives the shape (name or UUID)"
        )
        parser.add_argument(
            "--compute",
            metavar="<percent>",
            type=float,
            help="Compute share of each card, in percent (0.1-100, one decimal: 14.2)",
        )
        parser.add_argument(
            "--memory", metavar="<mb>", type=int, help="Memory of each card, in MiB"
        )
        parser.add_argument("--count", metavar="<n>", type=int, help="Number of cards (default 1)")
        parser.add_argument(
            "--model",
            metavar="<model>",
            action="append",
            dest="models",
            help="Accept this device model (repeat for several)",
        )
        parser.add_argument(
            "--locality",
            metavar="<locality>",
            choices=LOCALITIES,
            help="Where the vGPU may be: " + ", ".join(LOCALITIES),
        )
        parser.add_argument(
            "--isolation",
            metavar="<isolation>",
            choices=ISOLATIONS,
            help="Isolation level required: " + ", ".join(ISOLATIONS),
        )
        add_link_option(parser, "a multi-card vGPU")
        parser.add_argument(
            "--consumer",
            metavar="platform=<p>,id=<id>[,host=<h>]",
            action=parseractions.MultiKeyValueAction,
            required_keys=["platform", "id"],
            optional_keys=["host"],
            help="Who will use the vGPU: platform (nova, container, cdi, kubernetes, vmware, "
            "libvirt, baremetal, other), its id, and the host it runs on (needed for --locality "
            "local or remote-required)",
        )
        parser.add_argument(
            "--wait",
            action="store_true",
            default=False,
            help="Wait until the vGPU is ACTIVE, printing each change of state",
        )
        _timeout_arg(parser)
        return parser

    def take_action(self, parsed_args):
        args = parsed_args
        shape = args.compute is not None or args.memory is not None or args.count is not None
        if args.profile and shape:
            raise exceptions.CommandError(
                "Give either --profile or --compute/--memory/--count, not both"
            )
        if not args.profile and (args.compute is None or args.memory is None):
            raise exceptions.CommandError("Give --profile, or both --compute and --memory")
        if args.consumer and len(args.consumer) > 1:
            raise exceptions.CommandError("Give --consumer once")
        client = common.client(self)
        with common.flag_errors():
            vgpu = client.create_vgpu(
                name=args.name,
                profile=args.profile,
                compute_percent=common.percent(args.compute),
                memory_mb=args.memory,
                count=args.count,
                models=args.models,
                locality=args.locality,
                isolation=args.isolation,
                link=args.link,
                consumer=args.consumer[0] if args.consumer else None,
            )
        if args.wait:
            vgpu = (
                _wait(client, vgpu["uuid"], {"ACTIVE"}, args.timeout, self.app.stderr) or vgpu
            )
        return common.show(vgpu, lines=NESTED)


def _listed(vgpu: dict) -> dict:
    """The vGPU with two columns for the list: where its slices are (host and the
    first 8 hex of each device), and who uses it (platform:id)."""
    where = ", ".join(
        f"{s.get('host')}/{str(s.get('device_uuid') or '')[:8]}" for s in vgpu.get("slices") or []
    )
    consumer = vgpu.get("consumer") or {}
    text = f"{consumer.get('platform')}:{consumer.get('id')}" if consumer else ""
    if consumer.get("host"):
        text += f"@{consumer['host']}"
    return dict(vgpu, where=where, consumer_text=text)


def _consumer_filter(text):
    """``platform=P,id=ID`` (either or both) of ``vgpu list --consumer``."""
    if not text:
        return {}
    found = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in ("platform", "id") or not value.strip():
            raise exceptions.CommandError(
                f"--consumer takes platform=<platform>,id=<id> (either or both), not {text!r}"
            )
        found[key] = value.strip()
    return found


class ListVgpu(command.Lister):
    """List vGPUs (of your project unless --all-projects)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--state",
            metavar="<state>",
            type=str.upper,
            help="Only vGPUs in this state (e.g. ACTIVE, ERROR)",
        )
        parser.add_argument(
            "--all-projects",
            action="store_true",
            default=False,
            help="vGPUs of every project (admin only)",
        )
        parser.add_argument(
            "--project",
            metavar="<project>",
            help="Only vGPUs of this project (name or ID; admin only)",
        )
        parser.add_argument(
            "--consumer",
            metavar="<platform=P,id=ID>",
            help="Only vGPUs of this consumer: platform=<platform>,id=<id> (either or both; "
            "e.g. id=<Nova server UUID>)",
        )
        parser.add_argument(
            "--long", action="store_true", default=False, help="List additional fields in output"
        )
        return parser

    def _project_id(self, project):
        return common.project_id(self, project)

    def take_action(self, parsed_args):
        consumer = _consumer_filter(parsed_args.consumer)
        with common.flag_errors():
            vgpus = common.client(self).list_vgpus(
                state=parsed_args.state,
                all_projects=parsed_args.all_projects,
                project_id=self._project_id(parsed_args.project),
                consumer_platform=consumer.get("platform"),
                consumer_id=consumer.get("id"),
            )
        return common.listing(
            [_listed(v) for v in vgpus], VGPU_FIELDS + (VGPU_LONG if parsed_args.long else [])
        )


class ShowVgpu(command.ShowOne):
    """Show one vGPU, with its slices and attachment."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("vgpu", metavar="<vgpu>", help="vGPU (name or UUID)")
        return parser

    def take_action(self, parsed_args):
        return common.show(common.client(self).find_vgpu(parsed_args.vgpu), lines=NESTED)


class DeleteVgpu(command.Command):
    """Delete vGPU(s); their capacity returns to the pool."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "vgpus", metavar="<vgpu>", nargs="+", help="vGPU(s) to delete (name or UUID)"
        )
        parser.add_argument(
            "--wait",
            action="store_true",
            default=False,
            help="Wait until each vGPU is DELETED, printing each change of state",
        )
        _timeout_arg(parser)
        return parser

    def take_action(self, parsed_args):
        client = common.client(self)

        def delete(name_or_id):
            uuid = client.find_vgpu(name_or_id)["uuid"]
            client.delete_vgpu(uuid)
            if parsed_args.wait:
                _wait(client, uuid, {"DELETED"}, parsed_args.timeout, self.app.stderr)

        common.delete_all(parsed_args.vgpus, delete, "vGPU")
