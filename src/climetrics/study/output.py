"""The output folder of a study run: the only place climetrics writes.

Rules (each backed by a test in ``tests/test_output_safety.py``):

* **Nothing outside the folder.** Every file name derived from a user string (a table or
  figure name built from a config value or a column name) goes through :func:`slug`, which
  can never produce a path separator, ``..``, a leading dot, a control character or an
  over-long name. A destination that resolves outside the folder (e.g. through a symlinked
  ``tables/``) is refused.
* **Protected inputs.** The data file, the config file and every file the config reads are
  passed as ``protected``; a folder containing one of them is refused (a file an output
  would replace is refused even with ``force``).
* **Ownership.** A folder climetrics creates (or adopts with ``force``) holds the marker file
  :data:`MARKER`. A non-empty folder without it is refused with :class:`ConfigError` unless
  ``force``; a path that is a file is refused always.
* **One run per folder state.** Outputs are written into a staging folder inside the output
  folder (``.staging-<pid>-<random>``, so that nothing is written outside it) and moved into
  place only when the run finished, under an exclusive lock (``.lock``). The previous run's
  outputs, listed in its ``manifest.json``, that this run does not produce again (a disabled
  or failed section) are removed first, so the report, tables and manifest always describe
  one run. A killed run leaves the previous outputs untouched; files climetrics did not write
  are never removed and never listed.
* **Readable by co-authors.** Files get the permissions the user's umask gives a new file
  (``0o666 & ~umask``), not the 0600 of a temporary file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import unicodedata
import weakref
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..errors import ConfigError

#: marker file of a folder climetrics owns
MARKER = ".climetrics-output"
#: longest slug (characters) before a hash suffix replaces the tail
MAX_NAME = 80
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)),
                     *(f"lpt{i}" for i in range(1, 10))}
# runs of characters other than letters, digits, "_", "-", "." (\w is unicode-aware: 城市 stays
# readable), together with any ".." inside them
_UNSAFE = re.compile(r"(?:[^\w.-]|\.{2,})+")


def slug(name: object, *, max_len: int = MAX_NAME) -> str:
    """A file-name-safe version of ``name``: letters, digits, ``_``, ``-`` and inner ``.``.

    Every other character run (``/``, ``\\``, spaces, control characters, ...) becomes ``_``;
    leading dots, dashes and underscores are dropped (no hidden files, no ``..``, no option-like
    names); reserved Windows device names get a ``_`` prefix; an empty result is ``unnamed``; a
    name longer than ``max_len`` keeps its head plus an 8-character hash of the whole name, so
    distinct long names stay distinct.
    """
    text = unicodedata.normalize("NFKC", str(name))
    out = re.sub(r"_{2,}", "_", _UNSAFE.sub("_", text)).strip("._-") or "unnamed"
    if out.split(".")[0].lower() in _WINDOWS_RESERVED:
        out = "_" + out
    if len(out) > max_len:
        digest = hashlib.sha256(str(name).encode("utf-8", "surrogatepass")).hexdigest()[:8]
        out = out[: max_len - 9].rstrip("._-") + "-" + digest
    return out


def file_mode() -> int:
    """Permission bits of a new regular file under the current umask (``0o666 & ~umask``)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and an atomic rename;
    the file gets :func:`file_mode` permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data if isinstance(data, bytes) else data.encode("utf-8"))
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


class OutputFolder:
    """The output folder of one run (see the module docstring for the rules).

    >>> folder = OutputFolder(out, protected=[data_file, config_file])   # doctest: +SKIP
    >>> folder.claim()                     # doctest: +SKIP
    >>> stage = folder.staging()                         # doctest: +SKIP
    >>> stage.write("report.html", html)                 # doctest: +SKIP
    >>> stage.write(stage.stem("tables", user_name) + ".csv", text)   # doctest: +SKIP
    >>> stage.commit()                                   # doctest: +SKIP
    """

    def __init__(self, path: str | Path, *, force: bool = False,
                 protected: Iterable[Path | None] = ()):
        self.path = Path(path).expanduser().resolve()
        self.force = force
        self.protected = {Path(p).resolve() for p in protected if p is not None}
        self._adopted = False  # True when this run adopted a folder without marker (force)

    @property
    def cache_dir(self) -> Path:
        return self.path / ".cache"

    def claim(self) -> None:
        """Check that the folder may be written, create it and write the marker."""
        out = self.path
        for p in sorted(self.protected):
            if _inside(p, out):
                raise ConfigError(
                    f"output directory {out} contains the input file {p}; choose another output "
                    "folder ('--out' or 'study.output'): climetrics never writes next to its inputs"
                )
        if out.exists() and not out.is_dir():
            raise ConfigError(f"output path {out} is a file, not a folder; choose a folder for '--out'")
        if out.is_dir() and not (out / MARKER).is_file():
            if any(out.iterdir()):
                if not self.force:
                    shown = ", ".join(sorted(p.name for p in out.iterdir())[:5])
                    raise ConfigError(
                        f"output folder {out} is not empty ({shown}) and was not created by "
                        "climetrics; choose a new folder, or pass --force (Study.run(force=True)) "
                        "to write there anyway (files climetrics did not write are kept)"
                    )
                self._adopted = True
        out.mkdir(parents=True, exist_ok=True)
        if not (out / MARKER).is_file():
            atomic_write(out / MARKER, json.dumps({"written_by": "climetrics"}) + "\n")
        self._remove_dead_staging()

    def _remove_dead_staging(self) -> None:
        """Remove staging folders left by runs that were killed (their process is gone)."""
        for d in self.path.glob(".staging-*"):
            try:
                pid = int(d.name.split("-")[1])
                os.kill(pid, 0)
            except ProcessLookupError:
                shutil.rmtree(d, ignore_errors=True)
            except (ValueError, IndexError, PermissionError):
                continue

    def previous_files(self) -> list[str]:
        """Files listed by the previous run's manifest (only in a folder climetrics owned
        before this run; a name that would leave the folder is ignored)."""
        m = self.path / "manifest.json"
        if self._adopted or not m.is_file():
            return []
        try:
            listed = json.loads(m.read_text(encoding="utf-8")).get("files", [])
        except (ValueError, OSError, AttributeError):
            return []
        keep = []
        for rel in listed if isinstance(listed, list) else []:
            if not isinstance(rel, str) or not rel:
                continue
            target = (self.path / rel).resolve()
            if _inside(target, self.path) and target != self.path and target not in self.protected:
                keep.append(rel)
        return keep

    def staging(self) -> Staging:
        """A new staging folder for this run's outputs; :meth:`Staging.commit` moves them into
        place. A staging folder never committed (the run raised) is removed when the
        :class:`Staging` object is garbage-collected or the process exits."""
        return Staging(self, self.path / f".staging-{os.getpid()}-{secrets.token_hex(4)}")

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        import fcntl

        with open(self.path / ".lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _destination(self, rel: str) -> Path:
        """Where a staged file goes; refuses a destination outside the folder or a protected one."""
        dest = self.path / rel
        real = dest.resolve()
        if not _inside(real, self.path) or real == self.path:
            raise ConfigError(f"output {rel} would be written outside {self.path} (a symlink?); refused")
        if real in self.protected:
            raise ConfigError(f"output {rel} would overwrite the input file {real}; refused")
        return dest

    def _commit(self, stage: Staging) -> None:
        """Under the lock: remove the previous run's outputs this run does not produce again,
        then move the staged files into place."""
        with self._lock():
            dests = {rel: self._destination(rel) for rel in stage.files}
            for rel in self.previous_files():
                if rel not in dests:
                    (self.path / rel).unlink(missing_ok=True)
            for sub in ("tables", "figures"):
                d = self.path / sub
                if d.is_dir() and not d.is_symlink() and not any(d.iterdir()):
                    d.rmdir()
            for rel, dest in dests.items():
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(stage.root / rel, dest)


class Staging:
    """Files of one run being written; :meth:`stem` makes file names with :func:`slug`."""

    def __init__(self, folder: OutputFolder, root: Path):
        self.folder = folder
        self.root = root
        self.files: list[str] = []  # relative paths, in writing order
        self._stems: set[str] = set()
        root.mkdir()
        self._cleanup = weakref.finalize(self, shutil.rmtree, root, True)

    def commit(self) -> None:
        """Move the staged files into the output folder (see :class:`OutputFolder`)."""
        try:
            self.folder._commit(self)
        finally:
            self._cleanup()

    def write(self, rel: str, data: str | bytes) -> str:
        """Write a file at the fixed relative path ``rel`` (a name climetrics chose)."""
        atomic_write(self.root / rel, data)
        if rel not in self.files:
            self.files.append(rel)
        return rel

    def stem(self, folder: str, name: object) -> str:
        """A new relative path stem ``folder/slug(name)`` (add ``.ext``), unique within this run
        (``-2``, ``-3``, ... when two names have the same slug)."""
        base = f"{folder}/{slug(name)}"
        stem, k = base, 1
        while stem in self._stems:
            k += 1
            stem = f"{base}-{k}"
        self._stems.add(stem)
        return stem
