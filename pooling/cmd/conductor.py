"""pooling-conductor: the vGPU state machine, agent reports, reconciliation."""

from oslo_service import service

from pooling import service as pooling_service
from pooling.cmd import common


def main(argv=None):
    conf = common.prepare(argv)
    launcher = service.launch(conf, pooling_service.ConductorService(conf), workers=1,
                              restart_method='mutate')
    launcher.wait()
