"""``openstack accelerator pool quota ...``: a project's vGPU limits (/v1/quotas).

A limit of -1 is unlimited; ``quota delete`` makes every limit unlimited again.
Without a project the commands speak of the caller's own project.
"""

from osc_lib.command import command

from poolingclient import exceptions
from poolingclient.osc import common

#: (row label, API field, flag) of each limit.
LIMITS = [
    ("vGPUs", "vgpus", "--vgpus"),
    ("Memory (MB)", "memory_mb", "--memory"),
    ("Compute %", "compute_percent", "--compute"),
]


def _project(cmd, project: str | None) -> str:
    """The project's ID: the one given (a name through Keystone), else the caller's."""
    if project:
        return common.project_id(cmd, project)
    try:
        own = cmd.app.client_manager.auth_ref.project_id
    except Exception:  # noqa: BLE001 - noauth has no token: ask for the project
        own = None
    if not isinstance(own, str) or not own:
        raise exceptions.CommandError("Give the project: no token names one")
    return own


def _rows(quota: dict) -> tuple[tuple, list]:
    usage = quota.get("usage") or {}
    rows = []
    for label, field, _ in LIMITS:
        limit = quota.get(field)
        rows.append((label, "unlimited" if limit in (None, -1) else limit, usage.get(field)))
    return ("Resource", "Limit", "In Use"), rows


def _add_project(parser):
    parser.add_argument(
        "project", metavar="<project>", nargs="?", help="Project (name or ID; default: yours)"
    )


class ShowQuota(command.Lister):
    """Show a project's vGPU limits and what it uses."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        _add_project(parser)
        return parser

    def take_action(self, parsed_args):
        return _rows(common.client(self).get_quota(_project(self, parsed_args.project)))


class SetQuota(command.Lister):
    """Set a project's vGPU limits (-1: unlimited; admin only)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        _add_project(parser)
        parser.add_argument("--vgpus", metavar="<n>", type=int, help="Most vGPUs at once")
        parser.add_argument(
            "--memory", metavar="<mb>", type=int, help="Most accelerator memory, in MiB"
        )
        parser.add_argument(
            "--compute",
            metavar="<percent>",
            type=int,
            help="Most compute, in percent of one card (400 = four whole cards)",
        )
        return parser

    def take_action(self, parsed_args):
        limits = {field: getattr(parsed_args, flag[2:]) for _, field, flag in LIMITS}
        if all(v is None for v in limits.values()):
            raise exceptions.CommandError("Give at least one of --vgpus, --memory, --compute")
        project = _project(self, parsed_args.project)
        flags = dict(common.FLAGS, compute_percent="--compute", memory_mb="--memory",
                     vgpus="--vgpus")
        with common.flag_errors(flags):
            quota = common.client(self).set_quota(project, **limits)
        return _rows(quota)


class DeleteQuota(command.Command):
    """Make every vGPU limit of a project unlimited again (admin only)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        _add_project(parser)
        return parser

    def take_action(self, parsed_args):
        common.client(self).delete_quota(_project(self, parsed_args.project))
