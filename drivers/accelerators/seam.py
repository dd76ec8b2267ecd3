"""The one seam through which drivers read from (and act on) the machine.

Every library import, ``*-smi`` command, sysfs read and device-node check a driver makes goes
through a :class:`Seam`.  :class:`HostSeam` does it for real; :class:`RecordedSeam` answers from
recorded outputs so that every driver can be tested, and demonstrated, without the hardware.
Nothing else in ``pooling_drivers`` may call ``subprocess``, ``open`` on sysfs or import a vendor
binding directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
import dataclasses
import fnmatch
import glob as _glob
import importlib
import os
import shutil
import subprocess
from typing import Any

from pooling_drivers.accelerators import errors


@dataclasses.dataclass(frozen=True)
class CommandResult:
    """What a command printed and how it exited."""

    rc: int
    stdout: str = ''
    stderr: str = ''


class Seam:
    """Access to the machine.  Subclasses implement every method."""

    def run(self, argv: Sequence[str], *, input: str | None = None,
            env: Mapping[str, str] | None = None, timeout: float = 30.0) -> CommandResult:
        """Run a command and capture its output.

        :param argv: the command and its arguments; never a shell string.
        :param input: text written to the command's standard input.
        :param env: variables added to the inherited environment.
        :param timeout: seconds before the command is killed.
        :returns: a :class:`CommandResult`, whatever the exit status.
        :raises pooling_drivers.accelerators.errors.SeamError: the command cannot be started or
            timed out.
        """
        raise NotImplementedError

    def read(self, path: str) -> str:
        """Read a text file (sysfs, a config or state file).

        :param path: absolute path.
        :returns: the file's text.
        :raises pooling_drivers.accelerators.errors.SeamError: the file cannot be read.
        """
        raise NotImplementedError

    def exists(self, path: str) -> bool:
        """Say whether a path exists.

        :param path: absolute path.
        :returns: ``True`` if it exists.
        """
        raise NotImplementedError

    def glob(self, pattern: str) -> list[str]:
        """List paths matching a shell pattern, sorted.

        :param pattern: e.g. ``/dev/davinci[0-9]*``.
        :returns: the sorted matches.
        """
        raise NotImplementedError

    def which(self, tool: str) -> str | None:
        """Find a command on ``PATH``.

        :param tool: the command name, e.g. ``npu-smi``.
        :returns: its path, or ``None``.
        """
        raise NotImplementedError

    def library(self, name: str) -> Any:
        """Import a vendor Python binding (``pynvml``, ``pymtml`` ...).

        :param name: the module name.
        :returns: the module (or, in tests, an object with the same functions).
        :raises pooling_drivers.accelerators.errors.DriverUnavailableError: not installed.
        """
        raise NotImplementedError

    def write(self, path: str, text: str) -> None:
        """Write a text file (state files, vendor config such as Hygon's vdev files).

        :param path: absolute path; parent folders are created.
        :param text: the content.
        :raises pooling_drivers.accelerators.errors.SeamError: the file cannot be written.
        """
        raise NotImplementedError

    def remove(self, path: str) -> None:
        """Remove a file if it exists; a missing file is not an error.

        :param path: absolute path.
        """
        raise NotImplementedError


class HostSeam(Seam):
    """The real machine."""

    def run(self, argv, *, input=None, env=None, timeout=30.0):
        full_env = dict(os.environ)
        full_env.update(env or {})
        try:
            done = subprocess.run(  # noqa: S603 - argv list, no shell
                list(argv), input=input, env=full_env, capture_output=True, text=True,
                timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise errors.SeamError(f'cannot run {argv[0]}: {exc}') from exc
        return CommandResult(done.returncode, done.stdout, done.stderr)

    def read(self, path):
        try:
            with open(path, encoding='utf-8') as handle:
                return handle.read()
        except OSError as exc:
            raise errors.SeamError(f'cannot read {path}: {exc}') from exc

    def exists(self, path):
        return os.path.exists(path)

    def glob(self, pattern):
        return sorted(_glob.glob(pattern))

    def which(self, tool):
        return shutil.which(tool)

    def library(self, name):
        try:
            return importlib.import_module(name)
        except ImportError as exc:
            raise errors.DriverUnavailableError(
                f'Python module {name} is not installed: {exc}') from exc

    def write(self, path, text):
        try:
            os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
            with open(path, 'w', encoding='utf-8') as handle:
                handle.write(text)
        except OSError as exc:
            raise errors.SeamError(f'cannot write {path}: {exc}') from exc

    def remove(self, path):
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise errors.SeamError(f'cannot remove {path}: {exc}') from exc


class RecordedSeam(Seam):
    """Answers from recorded outputs; records what was asked.

    :param commands: ``"npu-smi info -m"`` (argv joined by single spaces) → a
        :class:`CommandResult` or the recorded standard output.
    :param files: path → text; written files land here too.
    :param libraries: module name → the object standing in for it.
    :param tools: command names that :meth:`which` reports present; by default every command
        whose first word appears in ``commands``.
    """

    def __init__(self, commands: Mapping[str, CommandResult | str] | None = None,
                 files: Mapping[str, str] | None = None,
                 libraries: Mapping[str, Any] | None = None,
                 tools: Sequence[str] | None = None) -> None:
        self.commands = {key: (value if isinstance(value, CommandResult)
                               else CommandResult(0, value))
                         for key, value in (commands or {}).items()}
        self.files = dict(files or {})
        self.libraries = dict(libraries or {})
        if tools is None:
            tools = sorted({key.split(' ', 1)[0] for key in self.commands})
        self.tools = set(tools)
        #: Every command run, as ``(argv_string, input, env)``, in order.
        self.calls: list[tuple[str, str | None, dict[str, str]]] = []

    def run(self, argv, *, input=None, env=None, timeout=30.0):
        key = ' '.join(argv)
        self.calls.append((key, input, dict(env or {})))
        if key not in self.commands:
            raise errors.SeamError(f'no recorded output for command: {key}')
        return self.commands[key]

    def read(self, path):
        if path not in self.files:
            raise errors.SeamError(f'cannot read {path}: not recorded')
        return self.files[path]

    def exists(self, path):
        prefix = path.rstrip('/') + '/'
        return path in self.files or any(p.startswith(prefix) for p in self.files)

    def glob(self, pattern):
        return sorted(p for p in self.files if fnmatch.fnmatchcase(p, pattern))

    def which(self, tool):
        return f'/usr/bin/{tool}' if tool in self.tools else None

    def library(self, name):
        if name not in self.libraries:
            raise errors.DriverUnavailableError(f'Python module {name} is not installed')
        return self.libraries[name]

    def write(self, path, text):
        self.files[path] = text

    def remove(self, path):
        self.files.pop(path, None)
