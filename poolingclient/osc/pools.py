"""``openstack accelerator pool ...``: pools, their hosts, devices and usage.

These are the operator's view of the pool (admin to change, reader to list).
"""

from osc_lib.command import command

from poolingclient.osc import common

POOL_FIELDS = [
    ("UUID", "uuid"),
    ("Name", "name"),
    ("Hosts", "host_count"),
    ("Devices", "device_count"),
]
POOL_LONG = [
    ("Description", "description"),
    ("Created At", "created_at"),
    ("Updated At", "updated_at"),
]

HOST_FIELDS = [
    ("UUID", "uuid"),
    ("Name", "name"),
    ("Pool", "pool"),
    ("Fabric", "fabric"),
    ("State", "state"),
    ("Devices", "device_count"),
]
HOST_LONG = [
    ("CPU (milli)", "cpu_milli"),
    ("RAM (MB)", "ram_mb"),
    ("Last Heartbeat", "last_heartbeat"),
]

DEVICE_FIELDS = [
    ("UUID", "uuid"),
    ("Host", "host"),
    ("Vendor", "vendor"),
    ("Model", "model"),
    ("PCI Address", "pci_address"),
    ("Memory (MB)", "memory_mb"),
    ("Health", "health"),
]
DEVICE_LONG = [
    ("Pool", "pool"),
    ("NUMA Node", "numa_node"),
    ("Isolation", "isolation"),
    ("Free Compute %", "free.compute_percent"),
    ("Free Memory (MB)", "free.memory_mb"),
    ("Health Reason", "health_reason"),
]

USAGE_BY_PLATFORM_FIELDS = [
    ("Pool", "pool"),
    ("Model", "model"),
    ("Platform", "platform"),
    ("vGPUs", "vgpus"),
    ("Compute %", "compute_percent"),
    ("Memory (MB)", "memory_mb"),
]
#: The default ``pool usage`` table: ~100 characters wide, a bar per model.
USAGE_SHORT = [
    ("Pool", "pool"),
    ("Model", "model"),
    ("Devices", "devices"),
    ("Compute %", "compute_text"),
    ("Memory GiB", "memory_text"),
    ("Stranded %", "stranded.compute_percent"),
    ("Allocated", "bar"),
    ("Common Shapes", "shapes_text"),
]
BAR_WIDTH = 20
USAGE_FIELDS = [
    ("Pool", "pool"),
    ("Model", "model"),
    ("Devices", "devices"),
    ("Capacity Compute %", "capacity.compute_percent"),
    ("Capacity Memory (MB)", "capacity.memory_mb"),
    ("Allocated Compute %", "allocated.compute_percent"),
    ("Allocated Memory (MB)", "allocated.memory_mb"),
    ("Free Compute %", "free.compute_percent"),
    ("Free Memory (MB)", "free.memory_mb"),
    ("Stranded Compute %", "stranded.compute_percent"),
    ("Stranded Memory (MB)", "stranded.memory_mb"),
]


def _long(parser):
    parser.add_argument(
        "--long", action="store_true", default=False, help="List additional fields in output"
    )


class ListPool(command.Lister):
    """List accelerator pools."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        _long(parser)
        return parser

    def take_action(self, parsed_args):
        fields = POOL_FIELDS + (POOL_LONG if parsed_args.long else [])
        return common.listing(common.client(self).list_pools(), fields)


class ShowPool(command.ShowOne):
    """Show one accelerator pool."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("pool", metavar="<pool>", help="Pool (name or UUID)")
        return parser

    def take_action(self, parsed_args):
        return common.show(common.client(self).get_pool(parsed_args.pool))


class CreatePool(command.ShowOne):
    """Create an accelerator pool."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("name", metavar="<name>", help="Name of the new pool")
        parser.add_argument(
            "--description", metavar="<description>", help="Description of the pool"
        )
        return parser

    def take_action(self, parsed_args):
        pool = common.client(self).create_pool(parsed_args.name, parsed_args.description)
        return common.show(pool)


class DeletePool(command.Command):
    """Delete accelerator pool(s); a pool that still has hosts is refused."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "pools", metavar="<pool>", nargs="+", help="Pool(s) to delete (name or UUID)"
        )
        return parser

    def take_action(self, parsed_args):
        common.delete_all(parsed_args.pools, common.client(self).delete_pool, "pool")


class ListHost(command.Lister):
    """List the hosts of the accelerator pools."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--pool", metavar="<pool>", help="Only hosts of this pool")
        parser.add_argument("--fabric", metavar="<fabric>", help="Only hosts on this fabric")
        parser.add_argument(
            "--state",
            metavar="<state>",
            choices=["up", "down"],
            help="Only hosts in this state (up, down)",
        )
        _long(parser)
        return parser

    def take_action(self, parsed_args):
        hosts = common.client(self).list_hosts(
            pool=parsed_args.pool, fabric=parsed_args.fabric, state=parsed_args.state
        )
        return common.listing(hosts, HOST_FIELDS + (HOST_LONG if parsed_args.long else []))


class ShowHost(command.ShowOne):
    """Show one host of an accelerator pool."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("host", metavar="<host>", help="Host (name or UUID)")
        return parser

    def take_action(self, parsed_args):
        return common.show(common.client(self).get_host(parsed_args.host))


class ListDevice(command.Lister):
    """List the accelerators (devices) of the pools."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--pool", metavar="<pool>", help="Only devices of this pool")
        parser.add_argument("--host", metavar="<host>", help="Only devices on this host")
        parser.add_argument("--vendor", metavar="<vendor>", help="Only devices of this vendor")
        parser.add_argument("--model", metavar="<model>", help="Only devices of this model")
        parser.add_argument(
            "--health",
            metavar="<health>",
            choices=["healthy", "unhealthy"],
            help="Only devices in this health (healthy, unhealthy)",
        )
        _long(parser)
        return parser

    def take_action(self, parsed_args):
        devices = common.client(self).list_devices(
            pool=parsed_args.pool,
            host=parsed_args.host,
            vendor=parsed_args.vendor,
            model=parsed_args.model,
            health=parsed_args.health,
        )
        return common.listing(devices, DEVICE_FIELDS + (DEVICE_LONG if parsed_args.long else []))


class ShowDevice(command.ShowOne):
    """Show one accelerator (device) of the pool."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("device", metavar="<device>", help="Device (UUID or PCI address)")
        return parser

    def take_action(self, parsed_args):
        return common.show(common.client(self).find_device(parsed_args.device))


CAPACITY_FIELDS = [
    ("Profile", "name"),
    ("Available", "available"),
]


class ShowCapacity(command.Lister):
    """How many vGPUs of each profile the pool could give now (any project reader)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--pool", metavar="<pool>", help="Only this pool (name or UUID)")
        return parser

    def take_action(self, parsed_args):
        found = common.client(self).capacity(parsed_args.pool)
        return common.listing(found["profiles"], CAPACITY_FIELDS)


def _gib(mb) -> str:
    return f"{(mb or 0) / 1024:.0f}"


def _num(value) -> str:
    return f"{value or 0:g}"


def _bar(used, total) -> str:
    """``[#####...............]  25%``: the allocated share of the compute."""
    share = (used or 0) / total if total else 0.0
    filled = round(share * BAR_WIDTH)
    return "[" + "#" * filled + "." * (BAR_WIDTH - filled) + f"] {share * 100:3.0f}%"


def _shape(shape: dict) -> str:
    text = f"{_num(shape.get('compute_percent'))}%/{_gib(shape.get('memory_mb'))}G"
    return text + (f"x{shape['count']}" if (shape.get("count") or 1) > 1 else "")


def _short_usage(entry: dict) -> dict:
    """The usage entry with the short table's text columns added."""
    cap, alloc = entry.get("capacity") or {}, entry.get("allocated") or {}
    return dict(
        entry,
        compute_text=f"{_num(alloc.get('compute_percent'))}/{_num(cap.get('compute_percent'))}",
        memory_text=f"{_gib(alloc.get('memory_mb'))}/{_gib(cap.get('memory_mb'))}",
        bar=_bar(alloc.get("compute_percent"), cap.get("compute_percent")),
        shapes_text=", ".join(_shape(s) for s in entry.get("common_shapes") or ()),
    )


class ShowUsage(command.Lister):
    """Show allocation per pool and model: a bar each, stranded share, common shapes."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--pool", metavar="<pool>", help="Only this pool (name or UUID)")
        parser.add_argument(
            "--long",
            action="store_true",
            default=False,
            help="Every figure in its own column (capacity, allocated, free and stranded "
            "compute and memory) instead of the short table with a bar per model",
        )
        parser.add_argument(
            "--by-platform",
            action="store_true",
            default=False,
            help="One row per pool, model and consumer platform (nova, cdi, kubernetes, "
            "vmware, libvirt, baremetal ...) with what that platform holds",
        )
        return parser

    def take_action(self, parsed_args):
        client = common.client(self)
        if not parsed_args.by_platform:
            usage = client.usage(parsed_args.pool)
            if parsed_args.long:
                return common.listing(usage, USAGE_FIELDS)
            return common.listing([_short_usage(e) for e in usage], USAGE_SHORT)
        rows = [
            dict(share, pool=entry["pool"], model=entry["model"])
            for entry in client.usage(parsed_args.pool, by_platform=True)
            for share in entry.get("by_platform") or ()
        ]
        return common.listing(rows, USAGE_BY_PLATFORM_FIELDS)
