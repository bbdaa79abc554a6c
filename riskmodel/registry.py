"""Versioned, verified model artifacts.

Layout under the artifacts root::

    CURRENT                      the version in use (one line, replaced atomically)
    models/<version>/            immutable once written
        model.json, model.npz    the fitted model as data (riskmodel/artifact.py)
        manifest.json            checksums, library versions, schema, data hash, metrics...
        model_card.md, *.png     the human-readable card

A version directory is built under a temporary name and renamed into place only when every
file is written and flushed, so an interrupted or failed training leaves nothing behind.
Loading reads each file once into memory, checks its checksum on those bytes and parses those
same bytes; a version folder or file that is a symbolic link, or a path that resolves
anywhere but its place under the artifacts root, is refused. Nothing is unpickled: a version
of the old pickle format (1) is refused with the command that converts it.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from riskmodel import artifact, signing
from riskmodel.contract import SCHEMA, Schema
from riskmodel.errors import ArtifactError

MANIFEST = "manifest.json"
LEGACY_MODEL_FILE = "model.joblib"  # format 1: a pickle, converted by `riskmodel models convert`
FORMAT = artifact.FORMAT


def library_versions() -> dict[str, str]:
    """Versions of the libraries that built a model (provenance: the model format, not
    these, decides whether a version loads). Read from the installed packages' metadata,
    so recording them imports none of them."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for lib in ("scikit-learn", "numpy", "scipy", "pandas"):
        try:
            out[lib] = version(lib)
        except PackageNotFoundError:
            out[lib] = "not installed"
    return out


def schema_mismatches(recorded: dict, schema: Schema = SCHEMA) -> list[str]:
    """Columns the model was built on whose contract has changed or gone."""
    current = {c["name"]: c for c in schema.to_dict()["columns"]}
    out = []
    for col in recorded.get("columns", []):
        now = current.get(col["name"])
        if now is None:
            out.append(f"column {col['name']} is no longer in the contract")
        elif now != col:
            diff = sorted(k for k in col if col.get(k) != now.get(k))
            out.append(f"column {col['name']} changed: {', '.join(diff)}")
    return out


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def read_bytes(path: Path) -> bytes:
    """A regular file's bytes, read once; a symbolic link is refused, not followed."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        if os.path.islink(path):
            raise ArtifactError(f"{path} is a symbolic link; artifacts are read only from "
                                "regular files under the artifacts root") from None
        raise
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise ArtifactError(f"{path} is not a regular file")
        return f.read()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class LoadedModel:
    """A verified model and its manifest."""

    version: str
    model: object
    manifest: dict
    path: Path


@dataclass(frozen=True)
class VersionFiles:
    """A version's manifest and the bytes of every file it lists, each read once and
    checked against its checksum."""

    version: str
    manifest: dict
    manifest_bytes: bytes
    files: dict[str, bytes]
    path: Path
    signature: bytes | None = None  # manifest.sig, if the version is signed


class Registry:
    """The artifacts root: versions, the current pointer, verified loading.

    Examples
    --------
    >>> reg = Registry("artifacts")
    >>> reg.current_version()  # doctest: +SKIP
    'v20261127-101500-3f2a9c1d'

    With ``signing_key`` (an Ed25519 private key, PEM) every version written or promoted is
    signed; with ``verify_key`` (the public key, PEM) a version loads, verifies and is made
    current only if it is signed by that key (:mod:`riskmodel.signing`).
    """

    def __init__(self, root: str | Path, *, signing_key: bytes | None = None,
                 verify_key: bytes | None = None) -> None:
        self.root = Path(root)
        self.signing_key = signing_key
        self.verify_key = verify_key
        self.models = self.root / "models"

    # ------------------------------------------------------------------ reading

    def versions(self) -> list[str]:
        """The version folders (a symbolic link is not a version: it is never listed)."""
        if not self.models.is_dir():
            return []
        return sorted(p.name for p in self.models.iterdir()
                      if p.is_dir() and not p.is_symlink() and not p.name.startswith("."))

    def current_version(self) -> str | None:
        try:
            # a name only: what it names is checked (a real folder under the root) on load
            text = (self.root / "CURRENT").read_text(errors="replace").strip()
        except FileNotFoundError:
            return None
        return text or None

    def _directory(self, version: str) -> Path:
        """``models/<version>``, checked: a plain name, an existing real folder whose path
        resolves to exactly its place under the artifacts root."""
        if not version or "/" in version or "\\" in version or version.startswith("."):
            raise ArtifactError(f"{version!r} is not a model version name")
        directory = self.models / version
        if directory.is_symlink():
            raise ArtifactError(f"model version {version!r} refused: {directory} is a "
                                "symbolic link; a version must be a folder under "
                                f"{self.models}")
        if not directory.is_dir():
            raise ArtifactError(f"model version {version!r} does not exist under {self.models}")
        where = os.path.realpath(directory)
        expected = os.path.join(os.path.realpath(self.root), "models", version)
        if where != expected:
            raise ArtifactError(f"model version {version!r} refused: it resolves to {where}, "
                                f"outside {expected}")
        return directory

    @staticmethod
    def schema_problems(manifest: dict) -> list[str]:
        """What changed in the contract since ``manifest``'s model was built."""
        return schema_mismatches(manifest.get("schema", {}))

    def manifest(self, version: str) -> dict:
        """A version's manifest, unverified (for listing)."""
        return self._manifest(version, self._directory(version))[0]

    def _manifest(self, version: str, directory: Path) -> tuple[dict, bytes]:
        path = directory / MANIFEST
        try:
            data = read_bytes(path)
        except FileNotFoundError:
            raise ArtifactError(f"model version {version!r} has no manifest at {path}; "
                                f"known versions: {', '.join(self.versions()) or 'none'}") from None
        try:
            manifest = json.loads(data)
        except (ValueError, UnicodeDecodeError) as e:
            raise ArtifactError(f"the manifest of {version!r} is not valid JSON: {e}") from None
        if not isinstance(manifest, dict):
            raise ArtifactError(f"the manifest of {version!r} is not a JSON object")
        return manifest, data

    def read(self, version: str) -> VersionFiles:
        """Read a version's manifest and every file it lists, each once, checking each
        file's checksum on the bytes read; raise :class:`ArtifactError` listing every
        problem. The format is not checked here (see :meth:`verify`)."""
        directory = self._directory(version)
        manifest, manifest_bytes = self._manifest(version, directory)
        listed = manifest.get("files", {})
        if not isinstance(listed, dict):
            raise ArtifactError(f"model version {version!r} refused: its manifest's files "
                                "is not an object of name: checksum")
        problems, files = [], {}
        real = os.path.realpath(directory)
        for name, digest in sorted(listed.items()):
            path = directory / name
            parts = Path(name).parts
            if (not parts or Path(name).is_absolute() or ".." in parts or name == MANIFEST
                    or os.path.realpath(path) != os.path.join(real, *parts)):
                problems.append(f"{name} is not a file of the version's folder (a link, or a "
                                "path leading out of it)")
                continue
            try:
                data = read_bytes(path)
            except FileNotFoundError:
                problems.append(f"{name} is missing")
                continue
            except (ArtifactError, OSError) as e:
                problems.append(f"{name} cannot be read: {e}")
                continue
            if hashlib.sha256(data).hexdigest() != digest:
                problems.append(f"{name} does not match its checksum (modified or corrupt)")
                continue
            files[name] = data
        if problems:
            raise ArtifactError(f"model version {version!r} refused:\n  - "
                                + "\n  - ".join(problems))
        try:
            signature = read_bytes(directory / signing.SIGNATURE)
        except FileNotFoundError:
            signature = None
        return VersionFiles(version, manifest, manifest_bytes, files, directory, signature)

    def verify(self, version: str) -> dict:
        """Check checksums, format and schema, and that the model's files parse (numbers
        only); return the manifest or raise."""
        return self.load(version).manifest

    def _verified(self, version: str, *, signed: bool = True) -> VersionFiles:
        read = self.read(version)
        if signed and self.verify_key is not None:
            signing.verify(read.manifest_bytes, read.signature, self.verify_key, version)
        manifest, problems = read.manifest, []
        fmt = manifest.get("format")
        if fmt == 1 or LEGACY_MODEL_FILE in manifest.get("files", {}):
            raise ArtifactError(
                f"model version {version!r} is in the old pickle format (format 1), which "
                "riskmodel no longer loads (a pickle can run code when loaded): convert it "
                f"once with `riskmodel models convert {version}` on a machine with the "
                "training dependencies, if you trust its source, or retrain")
        if fmt != FORMAT:
            problems.append(f"it is in model format {fmt!r}; this riskmodel reads format "
                            f"{FORMAT} (written by another release: upgrade riskmodel or "
                            "retrain)")
        for name in artifact.MODEL_FILES:
            if name not in read.files:
                problems.append(f"the manifest lists no {name}")
        problems += schema_mismatches(manifest.get("schema", {}))
        if problems:
            raise ArtifactError(f"model version {version!r} refused:\n  - "
                                + "\n  - ".join(problems))
        return read

    def load(self, version: str | None = None, *, signed: bool = True) -> LoadedModel:
        """Verify, then build the model of a version (the current one by default) from the
        very bytes that were verified (``signed=False``: whatever the verify key says)."""
        version = version or self.current_version()
        if version is None:
            raise ArtifactError(f"no model is current: {self.root / 'CURRENT'} is missing or "
                                "empty; train one with `riskmodel train --promote`")
        read = self._verified(version, signed=signed)
        try:
            model = artifact.load(read.files)
        except ArtifactError as e:
            raise ArtifactError(f"model version {version!r} could not be loaded: {e}") from e
        return LoadedModel(version, model, read.manifest, read.path)

    # ------------------------------------------------------------------ writing

    @contextmanager
    def new_version(self, name: str) -> Iterator[Path]:
        """A temporary directory that becomes ``models/<name>`` only if the block succeeds."""
        self.models.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=self.models))
        tmp.chmod(0o755)
        try:
            yield tmp
            final = self.models / name
            if final.exists():
                raise ArtifactError(f"model version {name!r} already exists")
            _fsync_dir(tmp)
            os.rename(tmp, final)
            _fsync_dir(self.models)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def write(self, model: object, manifest: dict,
              extra: Callable[[Path, dict], None] | None = None) -> str:
        """Write a new immutable version; return its name.

        ``extra(directory, manifest)`` may add files (model card, plots); every file is
        checksummed.
        """
        created = datetime.now(UTC)
        model_files = artifact.dump(model)
        digest = hashlib.sha256()
        for name in artifact.MODEL_FILES:
            digest.update(model_files[name])
        name = f"v{created:%Y%m%d-%H%M%S}-{digest.hexdigest()[:8]}"
        with self.new_version(name) as tmp:
            for file, data in model_files.items():
                (tmp / file).write_bytes(data)
            manifest = {"format": FORMAT, "version": name,
                        "created_at": created.isoformat(timespec="seconds"),
                        "libraries": library_versions(), "schema": SCHEMA.to_dict(),
                        "schema_fingerprint": SCHEMA.fingerprint(), **manifest}
            if extra is not None:
                extra(tmp, manifest)
            files = {}
            for path in sorted(tmp.rglob("*")):
                if path.is_file():
                    with open(path, "rb") as f:
                        os.fsync(f.fileno())
                    files[path.relative_to(tmp).as_posix()] = sha256_file(path)
            manifest["files"] = files
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True,
                                                   default=str) + "\n")
            with open(tmp / MANIFEST, "rb") as f:
                os.fsync(f.fileno())
            if self.signing_key is not None:
                with open(tmp / MANIFEST, "rb") as f:
                    data = f.read()
                (tmp / signing.SIGNATURE).write_bytes(signing.sign(data, self.signing_key))
                with open(tmp / signing.SIGNATURE, "rb") as f:
                    os.fsync(f.fileno())
        return name

    def sign(self, version: str) -> None:
        """Sign a version with the signing key (its checksums, format and model checked
        first): whoever promotes vouches for it. The signature file is replaced atomically."""
        if self.signing_key is None:
            raise ArtifactError("no signing key: set RISKMODEL_SIGNING_KEY to sign versions")
        read = self._verified(version, signed=False)
        artifact.load(read.files)  # parses: numbers only
        data = signing.sign(read.manifest_bytes, self.signing_key)
        if read.signature == data:
            return
        fd, tmp = tempfile.mkstemp(prefix=".sig-", dir=read.path)
        try:
            os.fchmod(fd, 0o644)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, read.path / signing.SIGNATURE)
            _fsync_dir(read.path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def set_current(self, version: str) -> None:
        """Point CURRENT at a verified version, atomically."""
        self.verify(version)
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".CURRENT-", dir=self.root)
        try:
            os.fchmod(fd, 0o644)
            with os.fdopen(fd, "w") as f:
                f.write(version + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.root / "CURRENT")
            _fsync_dir(self.root)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    # ------------------------------------------------------------------ promotion history

    @property
    def history_path(self) -> Path:
        return self.root / "promotions.jsonl"

    def history(self) -> list[dict]:
        """Every promotion and rollback, oldest first (one JSON object per line)."""
        try:
            lines = self.history_path.read_text().splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]

    def promote(self, version: str, *, by: str, reason: str, action: str = "promote") -> dict:
        """Make ``version`` current and record who did it and why."""
        previous = self.current_version()
        if self.signing_key is not None:
            self.sign(version)
        self.set_current(version)
        event = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "action": action,
                 "version": version, "previous": previous, "by": by, "reason": reason}
        with open(self.history_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(event) + "\n")
            f.flush()
            os.fsync(f.fileno())
        return event

    def rollback(self, *, by: str) -> dict:
        """Return to the version that was current before the current one was promoted."""
        current = self.current_version()
        for event in reversed(self.history()):
            if event["version"] == current and event.get("previous"):
                return self.promote(event["previous"], by=by, action="rollback",
                                    reason=f"rollback from {current}")
        raise ArtifactError(f"no earlier version to roll back to from {current!r}: the "
                            "promotion history does not say what was current before it")

