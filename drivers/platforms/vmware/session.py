"""vCenter connections: one logged-in session per configured vCenter, TLS verified by default.

pyvmomi is the vendor library and this module is the driver's only seam to it: everything the
driver asks of vSphere goes through :class:`VCenter`, so the vCenter simulator
(``tests/fixtures/vcsim``) can stand in for a real vCenter in tests.

Failures are turned into the platform contract's errors here, once: an unreachable vCenter, a
refused login or a certificate that does not verify is
:class:`~pooling_drivers.platforms.base.PlatformUnavailableError` (retry later); a VM that does
not exist is :class:`~pooling_drivers.platforms.base.ConsumerNotFoundError`.
"""

from __future__ import annotations

from collections.abc import Mapping
import dataclasses
import http.client
import logging
import re
import ssl
import threading
from typing import Any
from urllib import parse as urlparse

from pooling_drivers.platforms import base

LOG = logging.getLogger(__name__)

_MOREF = re.compile(r'^vm-\d+$')
_UUID = re.compile(r'^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')


def _vim():
    try:
        from pyVmomi import vim
        from pyVmomi import vmodl
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise base.PlatformUnavailableError(
            'the vmware platform needs pyvmomi (pip install pyvmomi)') from exc
    return vim, vmodl


@dataclasses.dataclass(frozen=True)
class VCenterConfig:
    """One configured vCenter: ``url`` (``https://vc.example.com/sdk``), credentials, TLS.

    ``ca_file`` names the CA bundle that signed the vCenter's certificate (the system store
    when empty); ``insecure`` turns verification off and is logged as a warning every time a
    session is opened.
    """

    name: str
    url: str
    user: str
    password: str = dataclasses.field(repr=False, default='')
    ca_file: str = ''
    insecure: bool = False
    timeout: float = 30.0

    @classmethod
    def from_options(cls, name: str, data: Mapping[str, Any]) -> VCenterConfig:
        """Build from the driver's ``vcenters`` option entry.

        :raises pooling_drivers.platforms.base.InvalidRequestError: no url or user.
        """
        url, user = str(data.get('url') or ''), str(data.get('user') or '')
        parsed = urlparse.urlsplit(url)
        if parsed.scheme not in ('http', 'https') or not parsed.hostname or not user:
            raise base.InvalidRequestError(
                f'vCenter {name!r} needs url (https://host[:port]/sdk) and user; got '
                f'url={url!r} user={user!r}')
        insecure = str(data.get('insecure', False)).lower() in ('1', 'true', 'yes')
        return cls(name=name, url=url, user=user, password=str(data.get('password') or ''),
                   ca_file=str(data.get('ca_file') or ''), insecure=insecure,
                   timeout=float(data.get('timeout') or 30.0))


class VCenter:
    """A logged-in session to one vCenter, opened on first use and reopened when it expires."""

    def __init__(self, config: VCenterConfig) -> None:
        self.config = config
        self._si = None
        self._lock = threading.Lock()

    # Session -----------------------------------------------------------
    def content(self):
        """The ServiceContent of a live session (logging in when needed)."""
        with self._lock:
            if self._si is None:
                self._si = self._connect()
            return self._si.RetrieveContent()

    def call(self, what: str, func, *args, **kwargs):
        """Run ``func`` against vSphere, mapping failures to the contract's errors.

        A session that expired (``NotAuthenticated``) is reopened once and ``func`` retried.
        """
        vim, vmodl = _vim()
        for attempt in (1, 2):
            try:
                return func(*args, **kwargs)
            except vim.fault.NotAuthenticated:
                if attempt == 2:
                    raise base.PlatformUnavailableError(
                        f'vCenter {self.config.name}: session not accepted while {what}'
                    ) from None
                with self._lock:
                    self._si = None
            except vmodl.fault.ManagedObjectNotFound as exc:
                raise base.ConsumerNotFoundError(
                    f'vCenter {self.config.name}: {what}: object {exc.obj} does not exist'
                ) from exc
            except (OSError, http.client.HTTPException) as exc:
                with self._lock:
                    self._si = None
                raise base.PlatformUnavailableError(
                    f'vCenter {self.config.name} unreachable while {what}: {exc}') from exc
        raise AssertionError('unreachable')  # pragma: no cover

    def close(self) -> None:
        with self._lock:
            si, self._si = self._si, None
        if si is not None:
            try:
                from pyVim import connect
                connect.Disconnect(si)
            except Exception as exc:  # noqa: BLE001 - closing must not fail
                LOG.debug('vCenter %s logout: %s', self.config.name, exc)

    def _connect(self):
        vim, _vmodl = _vim()
        from pyVim import connect
        cfg = self.config
        parsed = urlparse.urlsplit(cfg.url)
        kwargs: dict[str, Any] = {
            'protocol': parsed.scheme, 'host': parsed.hostname,
            'port': parsed.port or (443 if parsed.scheme == 'https' else 80),
            'path': parsed.path or '/sdk', 'user': cfg.user, 'pwd': cfg.password,
            'httpConnectionTimeout': cfg.timeout, 'connectionPoolTimeout': -1}
        if parsed.scheme == 'https':
            if cfg.insecure:
                LOG.warning('vCenter %s: TLS certificate verification is OFF (insecure=true)',
                            cfg.name)
                kwargs['disableSslCertValidation'] = True
            else:
                kwargs['sslContext'] = ssl.create_default_context(cafile=cfg.ca_file or None)
        try:
            return connect.SmartConnect(**kwargs)
        except vim.fault.InvalidLogin as exc:
            raise base.PlatformUnavailableError(
                f'vCenter {cfg.name} refused the credentials of user {cfg.user!r}') from exc
        except ssl.SSLCertVerificationError as exc:
            raise base.PlatformUnavailableError(
                f'vCenter {cfg.name}: TLS certificate not trusted ({exc.verify_message}); set '
                'ca_file to the CA that signed it') from exc
        except (TimeoutError, OSError, http.client.HTTPException) as exc:
            raise base.PlatformUnavailableError(
                f'vCenter {cfg.name} at {cfg.url} unreachable: {exc}') from exc
        except vim.fault.VimFault as exc:
            raise base.PlatformUnavailableError(
                f'vCenter {cfg.name} refused the login: {exc.msg}') from exc

    # Lookups -----------------------------------------------------------
    def find_vm(self, ident: str):
        """The VM named by a moref (``vm-42``) or an instance uuid.

        :raises pooling_drivers.platforms.base.InvalidRequestError: neither form.
        :raises pooling_drivers.platforms.base.ConsumerNotFoundError: no such VM.
        """
        vim, _vmodl = _vim()
        if _MOREF.match(ident or ''):
            def by_moref():
                self.content()  # (re)opens the session: a retry after expiry gets a new stub
                vm = vim.VirtualMachine(ident, self._si._stub)
                vm.name  # noqa: B018 - reading a property proves the VM exists
                return vm
            return self.call(f'looking up VM {ident}', by_moref)
        if _UUID.match(ident or ''):
            vm = self.call(f'looking up VM {ident}', lambda: self.content().searchIndex
                           .FindByUuid(None, ident, True, True))
            if vm is None:
                raise base.ConsumerNotFoundError(
                    f'vCenter {self.config.name} has no VM with instance uuid {ident}')
            return vm
        raise base.InvalidRequestError(
            f'a vmware consumer id is a VM moref (vm-42) or instance uuid, not {ident!r}')

    def hosts(self) -> list:
        """Every ESXi host this vCenter manages."""
        vim, _vmodl = _vim()

        def listing():
            content = self.content()
            view = content.viewManager.CreateContainerView(content.rootFolder,
                                                           [vim.HostSystem], True)
            try:
                return list(view.view)
            finally:
                view.Destroy()
        return self.call('listing ESXi hosts', listing)

    def vms(self) -> list:
        """Every VM of this vCenter."""
        vim, _vmodl = _vim()

        def listing():
            content = self.content()
            view = content.viewManager.CreateContainerView(content.rootFolder,
                                                           [vim.VirtualMachine], True)
            try:
                return list(view.view)
            finally:
                view.Destroy()
        return self.call('listing VMs', listing)

    def api_version(self) -> tuple[int, ...]:
        """The vCenter's API version, e.g. ``(8, 0, 3, 0)``."""
        version = self.content().about.apiVersion or '0'
        return tuple(int(x) for x in re.findall(r'\d+', version)) or (0,)

    def reconfigure(self, vm, spec, what: str) -> None:
        """Run ``ReconfigVM_Task`` and wait for it; a failed task raises PlatformError."""
        from pyVim import task as task_mod
        vim, vmodl = _vim()

        def run():
            task = vm.ReconfigVM_Task(spec=spec)
            task_mod.WaitForTask(task)
        try:
            self.call(what, run)
        except (vim.fault.VimFault, vmodl.MethodFault) as exc:
            raise base.PlatformError(
                f'vCenter {self.config.name}: {what} failed: {getattr(exc, "msg", exc)}'
            ) from exc
