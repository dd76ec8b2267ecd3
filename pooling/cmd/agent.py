"""pooling-agent: one per host; loads accelerator drivers, reports, prepares slices."""

import os
import sys

from oslo_service import service

from pooling import service as pooling_service
from pooling.agent import driver_loader
from pooling.agent import manager as agent_manager
from pooling.agent import platforms as agent_platforms
from pooling.cmd import common


def main(argv=None):
    conf = common.prepare(argv, configure_db=False)
    try:
        # Fail at start, with the known names, when the config names an unknown driver.
        driver_loader.load_accelerator_drivers(conf.agent.enabled_drivers, {})
    except driver_loader.UnknownDriverError as err:
        sys.exit('pooling-agent: %s' % err)
    try:
        agent_platforms.load_drivers(conf)
    except ValueError as err:
        sys.exit('pooling-agent: %s' % err)
    # Records of what was prepared must survive a restart: refuse to start without them.
    folder = agent_manager.state_dir(conf)
    if folder:
        try:
            os.makedirs(folder, exist_ok=True)
            probe = os.path.join(folder, '.writable')
            with open(probe, 'w'):
                pass
            os.remove(probe)
        except OSError as err:
            sys.exit('pooling-agent: [agent] state_dir %s is not writable (%s); set it to a '
                     'folder of the agent\'s user' % (folder, err.strerror))
    launcher = service.launch(conf, pooling_service.AgentService(conf), workers=1,
                              restart_method='mutate')
    launcher.wait()
