"""``openstack accelerator vgpu profile ...``: named vGPU shapes.

Operators publish profiles (they become Cyborg device profiles); tenants ask
for a vGPU by profile name.
"""

from osc_lib.command import command

from poolingclient.osc import common
from poolingclient.osc import vgpus
from poolingclient.osc.vgpus import ISOLATIONS
from poolingclient.osc.vgpus import LOCALITIES

PROFILE_FIELDS = [
    ("UUID", "uuid"),
    ("Name", "name"),
    ("Compute %", "compute_percent"),
    ("Memory (MB)", "memory_mb"),
    ("Count", "count"),
    ("Models", "models"),
]
PROFILE_LONG = [
    ("Isolation", "isolation"),
    ("Locality", "locality"),
    ("Description", "description"),
    ("Created At", "created_at"),
]


class ListProfile(command.Lister):
    """List vGPU profiles."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--long", action="store_true", default=False, help="List additional fields in output"
        )
        return parser

    def take_action(self, parsed_args):
        fields = PROFILE_FIELDS + (PROFILE_LONG if parsed_args.long else [])
        return common.listing(common.client(self).list_profiles(), fields)


class ShowProfile(command.ShowOne):
    """Show one vGPU profile."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("profile", metavar="<profile>", help="Profile (name or UUID)")
        return parser

    def take_action(self, parsed_args):
        return common.show(common.client(self).get_profile(parsed_args.profile))


class CreateProfile(command.ShowOne):
    """Create a vGPU profile (a named shape)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("name", metavar="<name>", help="Name of the new profile")
        parser.add_argument(
            "--compute",
            metavar="<percent>",
            type=float,
            required=True,
            help="Compute share of each card, in percent (0.1-100, one decimal: 14.2)",
        )
        parser.add_argument(
            "--memory", metavar="<mb>", type=int, required=True, help="Memory of each card, in MiB"
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
            "--isolation",
            metavar="<isolation>",
            choices=ISOLATIONS,
            help="Isolation level: " + ", ".join(ISOLATIONS),
        )
        parser.add_argument(
            "--locality",
            metavar="<locality>",
            choices=LOCALITIES,
            help="Locality: " + ", ".join(LOCALITIES),
        )
        vgpus.add_link_option(parser, "a multi-card vGPU of this profile")
        parser.add_argument(
            "--description", metavar="<description>", help="Description of the profile"
        )
        return parser

    def take_action(self, parsed_args):
        a = parsed_args
        with common.flag_errors():
            profile = common.client(self).create_profile(
                name=a.name,
                compute_percent=common.percent(a.compute),
                memory_mb=a.memory,
                count=a.count,
                models=a.models,
                isolation=a.isolation,
                locality=a.locality,
                link=a.link,
                description=a.description,
            )
        return common.show(profile)


class DeleteProfile(command.Command):
    """Delete vGPU profile(s)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "profiles", metavar="<profile>", nargs="+", help="Profile(s) to delete (name or UUID)"
        )
        return parser

    def take_action(self, parsed_args):
        common.delete_all(parsed_args.profiles, common.client(self).delete_profile, "profile")
