"""Package discovery that pyproject.toml cannot express.

NOTE: the top-level folder drivers/ is installed as the import package
``pooling_drivers`` so that no generic name such as ``drivers`` (or ``tests``)
lands in site-packages; every sub-package is found, so new drivers need no edit.
"""

from setuptools import find_packages
from setuptools import setup

_DRIVERS = ['pooling_drivers' + name[len('drivers'):]
            for name in find_packages(include=['drivers', 'drivers.*'])]

setup(packages=find_packages(include=['pooling', 'pooling.*', 'pooling_api', 'pooling_api.*',
                                      'poolingclient', 'poolingclient.*',
                                      'pooling_dashboard', 'pooling_dashboard.*']) + _DRIVERS,
      package_dir={'pooling_drivers': 'drivers'})
