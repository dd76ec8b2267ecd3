"""A stand-in for Cyborg (and for the part Nova plays in it), for the pool's functional tests.

This is not Cyborg: it keeps device profiles and ARQs in memory and answers the
calls the pool's Cyborg client makes (pooling.cyborg.client: list, create and
delete device profiles; list ARQs), with ARQs shaped as Cyborg's v2 API lists
them. ``bind`` plays what Nova and Cyborg do for a server whose flavor names a
device profile: Cyborg makes the ARQ (refused for a device profile it does not
have), Nova's scheduler picks the host through Placement, and Cyborg binds the
ARQ to that host's deployable, copying the attach handle of one of its slots.
Placement is not modelled: a test reads the slots view (what our Cyborg driver
reports as inventory) itself. ``delete_server`` is Nova deleting the server,
which deletes its ARQs. tests/openstack runs the real Nova, Cyborg and
Placement.
"""

import uuid


class FakeCyborg:
    def __init__(self):
        self.profiles, self.arqs = {}, []

    def list_device_profiles(self):
        return list(self.profiles.values())

    def create_device_profile(self, name, groups, description=''):
        self.profiles[name] = {'name': name, 'uuid': str(uuid.uuid4()), 'groups': groups}

    def delete_device_profile(self, uuid_):
        self.profiles = {k: v for k, v in self.profiles.items() if v['uuid'] != uuid_}

    def list_arqs(self):
        return list(self.arqs)

    def bind(self, device_profile, host, handle, project=None) -> dict:
        """A new server on ``host`` with an ARQ of ``device_profile``, bound to ``handle``.

        :param handle: one of the host's slots' handles (``{type, info}``) from the slots view.
        :raises LookupError: the device profile was not published (Cyborg answers 400).
        """
        if device_profile not in self.profiles:
            raise LookupError('no device profile %s in Cyborg' % device_profile)
        arq = bound_arq(device_profile, host, handle['type'], handle['info'], project)
        self.arqs.append(arq)
        return arq

    def delete_server(self, instance_uuid) -> None:
        self.arqs = [a for a in self.arqs if a['instance_uuid'] != instance_uuid]


def bound_arq(profile, host, handle_type='TEST_PCI', info=None, project=None) -> dict:
    """An ARQ as Cyborg lists it once Nova has bound it to a new instance on ``host``."""
    return {'uuid': str(uuid.uuid4()), 'state': 'Bound', 'device_profile_name': profile,
            'hostname': host, 'instance_uuid': str(uuid.uuid4()),
            'project_id': project or uuid.uuid4().hex, 'attach_handle_type': handle_type,
            'attach_handle_info': info or {'pool_slot': 'x'}, 'device_rp_uuid': 'rp'}
