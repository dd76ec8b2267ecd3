"""What every pooling process does first: config, logging, database."""

import sys

from oslo_log import log as logging

from pooling import conf as pooling_conf
from pooling.db import api as db_api


def prepare(argv=None, configure_db=True):
    """Parse ``argv`` into a fresh ConfigOpts, set up logging and the DB."""
    conf = pooling_conf.new_conf(sys.argv[1:] if argv is None else argv)
    logging.setup(conf, 'pooling')
    if configure_db:
        db_api.configure(conf)
    return conf
