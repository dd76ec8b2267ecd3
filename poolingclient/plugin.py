"""The openstackclient plugin hooks: how ``openstack`` builds our client.

openstackclient imports this module through the ``openstack.cli.extension``
entry point; it reads the constants, adds our global option, and calls
``make_client`` lazily the first time a command touches
``client_manager.accelerator_pool``.
"""

import logging
import re

from osc_lib import exceptions as osc_exceptions
from osc_lib import utils

from poolingclient.v1 import client as v1_client

LOG = logging.getLogger(__name__)

API_NAME = "accelerator_pool"
API_VERSION_OPTION = "os_accelerator_pool_api_version"
DEFAULT_API_VERSION = "1.0"
# NOTE: osc's command group is ``openstack.accelerator_pool.v<major>``; the
# minor part is the microversion sent in ``OpenStack-API-Version``.
API_VERSIONS = {"1": "poolingclient.v1.client.Client"}

_VERSION_RE = re.compile(r"^1(\.\d+)?$")


def check_api_version(version: str) -> bool:
    """Accept ``1`` or ``1.N``; True tells osc to skip its own exact check."""
    if not _VERSION_RE.match(version):
        raise osc_exceptions.CommandError(
            f"accelerator-pool API version '{version}' is not supported: use 1 or 1.N"
        )
    return True


def _microversion(version: str) -> str:
    return version if "." in version else version + ".0"


def make_client(instance):
    """Return the v1 client for a ClientManager (Keystone or noauth)."""
    version = instance._api_version.get(API_NAME, DEFAULT_API_VERSION)
    endpoint = instance.get_endpoint_for_service_type(
        v1_client.SERVICE_TYPE,
        region_name=instance.region_name,
        interface=instance.interface,
    )
    if not endpoint:
        raise osc_exceptions.CommandError(
            "No endpoint for service type 'accelerator-pool': "
            "check the service catalog or pass --os-endpoint"
        )
    LOG.debug("accelerator-pool endpoint %s, microversion %s", endpoint, version)
    return v1_client.Client(
        instance.session,
        endpoint=endpoint,
        microversion=_microversion(version),
        interface=instance.interface,
        region_name=instance.region_name,
    )


def build_option_parser(parser):
    """Add the global ``--os-accelerator-pool-api-version`` option."""
    parser.add_argument(
        "--os-accelerator-pool-api-version",
        metavar="<accelerator-pool-api-version>",
        default=utils.env("OS_ACCELERATOR_POOL_API_VERSION", default=DEFAULT_API_VERSION),
        help="Accelerator pool API microversion, default=%s "
        "(Env: OS_ACCELERATOR_POOL_API_VERSION)" % DEFAULT_API_VERSION,
    )
    return parser
