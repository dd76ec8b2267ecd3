"""The Kubernetes objects the admin guide tells operators to apply are valid for 1.37."""

import os
import re

import kubernetes_validate
import yaml

DOC = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'doc', 'source', 'admin',
                   'kubernetes.md')


def _objects():
    with open(DOC) as f:
        text = f.read()
    for block in re.findall(r'```yaml\n(.*?)```', text, re.S):
        for obj in yaml.safe_load_all(block):
            if isinstance(obj, dict) and 'apiVersion' in obj:
                yield obj


def test_guide_objects_validate_strictly():
    objects = list(_objects())
    kinds = sorted(o['kind'] for o in objects)
    assert kinds == ['DaemonSet', 'Deployment', 'Pod', 'Pod', 'ResourceClaimTemplate',
                     'ResourceClaimTemplate']
    for obj in objects:
        kubernetes_validate.validate(obj, '1.37.0', strict=True)


def test_guide_names_the_classes_the_controller_makes():
    from pooling_drivers.platforms.kubernetes import model

    classes = {r['exactly']['deviceClassName'] for o in _objects()
               if o['kind'] == 'ResourceClaimTemplate'
               for r in o['spec']['spec']['devices']['requests']}
    assert classes == {model.class_name('a100-quarter')}
