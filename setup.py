"""Package discovery that pyproject.toml cannot express.

NOTE: the top-level folder drivers/ is installed as the import package
``pooling_drivers`` so that no generic name such as ``drivers`` (or ``tests``)
lands in site-packages; every sub-package is found, so new drivers need no edit.
"""

from setuptools import find_namespace_packages
from setuptools import find_packages
from setuptools import setup

#: folders of data files (migrations, templates, .proto files) without an __init__.py: listed as
#: packages so that setuptools ships them without a warning per folder at every install.
_DATA = find_namespace_packages(include=['pooling.db.migrations*',
                                         'pooling_dashboard.content.*.templates.*'])
_DATA += ['pooling_drivers.platforms.kubernetes.protos']

_DRIVERS = ['pooling_drivers' + name[len('drivers'):]
            for name in find_packages(include=['drivers', 'drivers.*'])]

setup(packages=find_packages(include=['pooling', 'pooling.*', 'pooling_api', 'pooling_api.*',
                                      'poolingclient', 'poolingclient.*',
                                      'pooling_dashboard', 'pooling_dashboard.*'])
      + _DRIVERS + _DATA,
      package_dir={'pooling_drivers': 'drivers'})
