"""A stand-in for the ``pynvml`` module, replaying a recorded NVML fixture.

Stand-in, not NVML: the *values* come from the fixture (whose ``_source`` names where each was
recorded) and every answer is one of nvidia-ml-py's own ctypes structures (``c_nvmlMemory_t``,
``c_nvmlGpuInstanceProfileInfo_v2_t`` ...), and errors are its own ``NVMLError`` subclasses; the
MIG *behaviour* (placements, instance limits, "in use") is modelled here on NVML's documented
semantics so that create/destroy can be exercised without a card.  Constants and structure
classes are the real module's, through ``__getattr__``.
"""

import ctypes
import json
import os

import pynvml

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'drivers', 'nvml')


def load(name):
    with open(os.path.join(FIXTURES, name), encoding='utf-8') as handle:
        return json.load(handle)


def _error(code):
    return pynvml.NVMLError(code)


class FakeNvml:
    """Answers the NVML calls the ``nvidia`` driver makes, from a fixture dict."""

    def __init__(self, data):
        self.data = data
        self.devices = data['devices']
        self.initialised = False
        self.fail_init = None
        self._tokens = {}
        self._addresses = {}
        self._next = 0x1000
        self.events = [dict(e) for e in data.get('xid_events', [])]
        self.registered = set()
        # Per device index: list of {gi_id, const, start, cis: [ci_id], uuid}.
        self.instances = {d['index']: [] for d in self.devices}
        for inst in data.get('existing_instances', []):
            self.instances[inst['device_index']].append({
                'gi_id': inst['gi_id'], 'const': inst['gi_profile_constant'],
                'start': inst['start'], 'cis': list(inst['ci_ids']), 'uuid': inst['mig_uuid']})
        self.busy = set()  # (device index, gi id) whose compute instances have processes

    def __getattr__(self, name):
        return getattr(pynvml, name)

    # -- handles --------------------------------------------------------------------------

    def _token(self, kind, *key):
        ident = (kind,) + key
        address = self._addresses.get(ident)
        if address is None:
            self._next += 16
            address = self._addresses[ident] = self._next
            self._tokens[address] = ident
        pointer = {'device': pynvml.c_nvmlDevice_t, 'gi': pynvml.c_nvmlGpuInstance_t,
                   'ci': pynvml.c_nvmlComputeInstance_t, 'mig': pynvml.c_nvmlDevice_t,
                   'set': pynvml.c_nvmlEventSet_t}[kind]
        return ctypes.cast(ctypes.c_void_p(address), pointer)

    def _resolve(self, handle):
        return self._tokens[ctypes.cast(handle, ctypes.c_void_p).value]

    def _dev(self, handle):
        ident = self._resolve(handle)
        if ident[0] != 'device':
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return self.devices[ident[1]]

    def _check(self):
        if not self.initialised:
            raise _error(pynvml.NVML_ERROR_UNINITIALIZED)

    # -- system and device ----------------------------------------------------------------

    def nvmlInit(self):
        if self.fail_init is not None:
            raise _error(self.fail_init)
        self.initialised = True

    def nvmlShutdown(self):
        self.initialised = False

    def nvmlSystemGetDriverVersion(self):
        return self.data['driver_version']

    def nvmlDeviceGetCount(self):
        self._check()
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index):
        self._check()
        return self._token('device', index)

    def nvmlDeviceGetUUID(self, handle):
        ident = self._resolve(handle)
        if ident[0] == 'mig':
            return self._mig(ident[1], ident[2])['uuid']
        return self.devices[ident[1]]['uuid']

    def nvmlDeviceGetName(self, handle):
        return self._dev(handle)['name']

    def nvmlDeviceGetPciInfo(self, handle):
        dev = self._dev(handle)
        if dev.get('lost'):
            raise _error(pynvml.NVML_ERROR_GPU_IS_LOST)
        info = pynvml.nvmlPciInfo_t()
        info.busId = dev['busId'].encode()
        return info

    def nvmlDeviceGetMemoryInfo(self, handle):
        dev = self._dev(handle)
        total, used = dev['memory_total'], dev['memory_used']
        return pynvml.c_nvmlMemory_t(total=total, free=total - used, used=used)

    def nvmlDeviceGetAttributes(self, handle):
        dev = self._dev(handle)
        if dev['mig_mode'][0]:
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        attrs = pynvml.c_nvmlDeviceAttributes()
        attrs.multiprocessorCount = dev['multiprocessorCount']
        return attrs

    def nvmlDeviceGetMinorNumber(self, handle):
        return self._dev(handle)['minor']

    def nvmlDeviceGetNumaNodeId(self, handle):
        return self._dev(handle)['numa']

    def nvmlDeviceGetCpuAffinity(self, handle, size):
        words = self._dev(handle)['cpu_affinity']
        return (ctypes.c_ulonglong * size)(*words[:size])

    def nvmlDeviceGetMigMode(self, handle):
        return list(self._dev(handle)['mig_mode'])

    def nvmlDeviceGetRemappedRows(self, handle):
        return tuple(self._dev(handle)['remapped_rows'])

    def nvmlDeviceGetUtilizationRates(self, handle):
        rates = self._dev(handle)['utilization']
        return pynvml.c_nvmlUtilization_t(gpu=rates['gpu'], memory=rates['memory'])

    def nvmlDeviceGetTemperature(self, handle, sensor):
        return self._dev(handle)['temperature']

    def nvmlDeviceGetPowerUsage(self, handle):
        return self._dev(handle)['power_mw']

    def nvmlDeviceGetNvLinkState(self, handle, link):
        links = {entry['link']: entry for entry in self._dev(handle)['nvlinks']}
        if link not in links:
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return links[link]['state']

    def nvmlDeviceGetNvLinkRemotePciInfo(self, handle, link):
        links = {entry['link']: entry for entry in self._dev(handle)['nvlinks']}
        info = pynvml.nvmlPciInfo_t()
        info.busId = links[link]['remote_busId'].encode()
        return info

    def nvmlDeviceGetTopologyCommonAncestor(self, a, b):
        same = self._dev(a)['numa'] == self._dev(b)['numa']
        levels = self.data['topology_common_ancestor']
        return levels['same_numa'] if same else levels['cross_numa']

    # -- events ---------------------------------------------------------------------------

    def nvmlEventSetCreate(self):
        return self._token('set', 0)

    def nvmlEventSetFree(self, event_set):
        pass

    def nvmlDeviceRegisterEvents(self, handle, types, event_set):
        self.registered.add(self._resolve(handle)[1])

    def nvmlEventSetWait_v2(self, event_set, timeout_ms):
        while self.events:
            event = self.events.pop(0)
            if event['device_index'] in self.registered:
                data = pynvml.c_nvmlEventData_t()
                data.device = self._token('device', event['device_index'])
                data.eventType = pynvml.nvmlEventTypeXidCriticalError
                data.eventData = event['xid']
                return data
        raise _error(pynvml.NVML_ERROR_TIMEOUT)

    # -- MIG ------------------------------------------------------------------------------

    def _row(self, const):
        row = self.data['gi_profiles'].get(str(const))
        if row is None:
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return row

    def _row_by_id(self, profile_id):
        for const, row in self.data['gi_profiles'].items():
            if not const.startswith('_') and row['id'] == profile_id:
                return int(const), row
        raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)

    def nvmlDeviceGetGpuInstanceProfileInfo(self, handle, const, version=2):
        if not self._dev(handle)['mig_mode'][0]:
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        row = self._row(const)
        info = pynvml.c_nvmlGpuInstanceProfileInfo_v2_t()
        for field in ('id', 'sliceCount', 'instanceCount', 'multiprocessorCount',
                      'memorySizeMB'):
            setattr(info, field, row[field])
        info.name = row['name'].encode()
        return info

    def nvmlDeviceGetGpuInstancePossiblePlacements(self, handle, profile_id, array, count_ref):
        _const, row = self._row_by_id(profile_id)
        count = ctypes.cast(count_ref, ctypes.POINTER(ctypes.c_uint)).contents
        for i, start in enumerate(row['placements']):
            array[i].start, array[i].size = start, row['sliceCount']
        count.value = len(row['placements'])

    def _taken(self, index):
        taken = set()
        for inst in self.instances[index]:
            size = self._row(inst['const'])['sliceCount']
            taken.update(range(inst['start'], inst['start'] + size))
        return taken

    def _free_start(self, index, const):
        row = self._row(const)
        if sum(1 for i in self.instances[index] if i['const'] == const) >= row['instanceCount']:
            return None
        taken = self._taken(index)
        for start in row['placements']:
            if not taken & set(range(start, start + row['sliceCount'])):
                return start
        return None

    def nvmlDeviceGetGpuInstanceRemainingCapacity(self, handle, profile_id):
        const, _row = self._row_by_id(profile_id)
        return 0 if self._free_start(self._resolve(handle)[1], const) is None else 1

    def nvmlDeviceCreateGpuInstance(self, handle, profile_id):
        index = self._resolve(handle)[1]
        const, _row = self._row_by_id(profile_id)
        start = self._free_start(index, const)
        if start is None:
            raise _error(pynvml.NVML_ERROR_INSUFFICIENT_RESOURCES)
        gi_id = max([i['gi_id'] for i in self.instances[index]] + [0]) + 1
        self.instances[index].append({'gi_id': gi_id, 'const': const, 'start': start,
                                      'cis': [], 'uuid': None})
        return self._token('gi', index, gi_id)

    def _gi(self, handle):
        _kind, index, gi_id = self._resolve(handle)
        for inst in self.instances[index]:
            if inst['gi_id'] == gi_id:
                return index, inst
        raise _error(pynvml.NVML_ERROR_NOT_FOUND)

    def nvmlDeviceGetGpuInstances(self, handle, profile_id, array, count_ref):
        index = self._resolve(handle)[1]
        const, _row = self._row_by_id(profile_id)
        found = [i for i in self.instances[index] if i['const'] == const]
        for n, inst in enumerate(found):
            array[n] = self._token('gi', index, inst['gi_id'])
        ctypes.cast(count_ref, ctypes.POINTER(ctypes.c_uint)).contents.value = len(found)

    def nvmlGpuInstanceGetInfo(self, handle):
        index, inst = self._gi(handle)
        info = pynvml.c_nvmlGpuInstanceInfo_t()
        info.id = inst['gi_id']
        info.profileId = self._row(inst['const'])['id']
        info.placement.start = inst['start']
        info.placement.size = self._row(inst['const'])['sliceCount']
        return info

    def nvmlGpuInstanceGetComputeInstanceProfileInfo(self, handle, const, eng, version=2):
        _index, inst = self._gi(handle)
        row = self.data['ci_profiles'].get(str(const))
        if row is None or row['sliceCount'] > self._row(inst['const'])['sliceCount']:
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        info = pynvml.c_nvmlComputeInstanceProfileInfo_v2_t()
        info.id, info.sliceCount = row['id'], row['sliceCount']
        info.instanceCount = self._row(inst['const'])['sliceCount'] // row['sliceCount']
        return info

    def nvmlGpuInstanceCreateComputeInstance(self, handle, ci_profile_id):
        index, inst = self._gi(handle)
        if inst['cis']:
            raise _error(pynvml.NVML_ERROR_INSUFFICIENT_RESOURCES)
        inst['cis'].append(0)
        inst['uuid'] = f'MIG-{index:02d}{inst["gi_id"]:02d}0000-0000-5000-8000-00000000000{index}'
        return self._token('ci', index, inst['gi_id'], 0)

    def nvmlGpuInstanceGetComputeInstances(self, handle, ci_profile_id, array, count_ref):
        index, inst = self._gi(handle)
        full = self._row(inst['const'])['sliceCount']
        full_id = next(r['id'] for k, r in self.data['ci_profiles'].items()
                       if not k.startswith('_') and r['sliceCount'] == full)
        found = inst['cis'] if ci_profile_id == full_id else []
        for n, ci_id in enumerate(found):
            array[n] = self._token('ci', index, inst['gi_id'], ci_id)
        ctypes.cast(count_ref, ctypes.POINTER(ctypes.c_uint)).contents.value = len(found)

    def nvmlComputeInstanceGetInfo(self, handle):
        info = pynvml.c_nvmlComputeInstanceInfo_t()
        info.id = self._resolve(handle)[3]
        return info

    def nvmlComputeInstanceDestroy(self, handle):
        _kind, index, gi_id, ci_id = self._resolve(handle)
        if (index, gi_id) in self.busy:
            raise _error(pynvml.NVML_ERROR_IN_USE)
        for inst in self.instances[index]:
            if inst['gi_id'] == gi_id and ci_id in inst['cis']:
                inst['cis'].remove(ci_id)

    def nvmlGpuInstanceDestroy(self, handle):
        index, inst = self._gi(handle)
        if inst['cis']:
            raise _error(pynvml.NVML_ERROR_IN_USE)
        self.instances[index].remove(inst)

    def _mig(self, index, slot):
        live = [i for i in self.instances[index] if i['cis']]
        if slot >= len(live):
            raise _error(pynvml.NVML_ERROR_NOT_FOUND)
        return live[slot]

    def nvmlDeviceGetMaxMigDeviceCount(self, handle):
        return 7

    def nvmlDeviceGetMigDeviceHandleByIndex(self, handle, slot):
        index = self._resolve(handle)[1]
        self._mig(index, slot)
        return self._token('mig', index, slot)

    def nvmlDeviceGetGpuInstanceId(self, handle):
        _kind, index, slot = self._resolve(handle)
        return self._mig(index, slot)['gi_id']

    def nvmlDeviceGetComputeInstanceId(self, handle):
        _kind, index, slot = self._resolve(handle)
        return self._mig(index, slot)['cis'][0]
