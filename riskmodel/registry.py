"""Versioned, verified model artifacts.

Layout under the artifacts root::

    CURRENT                      the version in use (one line, replaced atomically)
    models/<version>/            immutable once written
        model.joblib             the fitted model
        manifest.json            checksums, library versions, schema, data hash, metrics...
        model_card.md, *.png     the human-readable card

A version directory is built under a temporary name and renamed into place only when every
file is written and flushed, so an interrupted or failed training leaves nothing behind.
Loading verifies the checksums and library versions *before* deserialising anything.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import joblib

from riskmodel.contract import SCHEMA, Schema
from riskmodel.errors import ArtifactError

MANIFEST = "manifest.json"
MODEL_FILE = "model.joblib"
FORMAT = 1


def library_versions() -> dict[str, str]:
    """Versions of the libraries a model artifact depends on."""
    import numpy
    import pandas
    import scipy
    import sklearn

    return {"python": platform.python_version(), "scikit-learn": sklearn.__version__,
            "numpy": numpy.__version__, "scipy": scipy.__version__,
            "pandas": pandas.__version__, "joblib": joblib.__version__}


# How closely a loading environment must match the one that built the model: pickles of
# scikit-learn objects are only supported on the same release; numpy, scipy and joblib
# arrays and Python itself on the same minor release. pandas is recorded, not pickled.
_MATCH = {"python": 2, "scikit-learn": 3, "numpy": 2, "scipy": 2, "joblib": 2}


def version_mismatches(recorded: dict[str, str], current: dict[str, str]) -> list[str]:
    """Describe every library whose version is incompatible with the recorded one."""
    out = []
    for lib, parts in _MATCH.items():
        want, have = recorded.get(lib), current.get(lib)
        if want is None:
            out.append(f"{lib}: not recorded in the manifest")
        elif want.split(".")[:parts] != (have or "").split(".")[:parts]:
            level = "the same release" if parts == 3 else "the same minor release"
            out.append(f"{lib}: built with {want}, running {have} (needs {level})")
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


class Registry:
    """The artifacts root: versions, the current pointer, verified loading.

    Examples
    --------
    >>> reg = Registry("artifacts")
    >>> reg.current_version()  # doctest: +SKIP
    'v20261127-101500-3f2a9c1d'
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.models = self.root / "models"

    # ------------------------------------------------------------------ reading

    def versions(self) -> list[str]:
        if not self.models.is_dir():
            return []
        return sorted(p.name for p in self.models.iterdir()
                      if p.is_dir() and not p.name.startswith("."))

    def current_version(self) -> str | None:
        try:
            text = (self.root / "CURRENT").read_text().strip()
        except FileNotFoundError:
            return None
        return text or None

    def manifest(self, version: str) -> dict:
        path = self.models / version / MANIFEST
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise ArtifactError(f"model version {version!r} has no manifest at {path}; "
                                f"known versions: {', '.join(self.versions()) or 'none'}") from None
        except json.JSONDecodeError as e:
            raise ArtifactError(f"the manifest of {version!r} is not valid JSON: {e}") from None

    def verify(self, version: str) -> dict:
        """Check checksums, library versions and schema; return the manifest or raise."""
        if not version or "/" in version or version.startswith("."):
            raise ArtifactError(f"{version!r} is not a model version name")
        directory = self.models / version
        if not directory.is_dir():
            raise ArtifactError(f"model version {version!r} does not exist under {self.models}")
        manifest = self.manifest(version)
        problems = []
        for name, digest in sorted(manifest.get("files", {}).items()):
            path = directory / name
            if not path.is_file():
                problems.append(f"{name} is missing")
            elif sha256_file(path) != digest:
                problems.append(f"{name} does not match its checksum (modified or corrupt)")
        if MODEL_FILE not in manifest.get("files", {}):
            problems.append(f"the manifest lists no {MODEL_FILE}")
        problems += version_mismatches(manifest.get("libraries", {}), library_versions())
        problems += schema_mismatches(manifest.get("schema", {}))
        if problems:
            raise ArtifactError(f"model version {version!r} refused:\n  - "
                                + "\n  - ".join(problems))
        return manifest

    def load(self, version: str | None = None) -> LoadedModel:
        """Verify, then deserialise a version (the current one by default)."""
        version = version or self.current_version()
        if version is None:
            raise ArtifactError(f"no model is current: {self.root / 'CURRENT'} is missing or "
                                "empty; train one with `riskmodel train --promote`")
        manifest = self.verify(version)
        try:
            model = joblib.load(self.models / version / MODEL_FILE)
        except Exception as e:  # a verified file that still fails to load
            raise ArtifactError(f"model version {version!r} could not be loaded: {e}") from e
        return LoadedModel(version, model, manifest, self.models / version)

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
        buffer = io.BytesIO()
        joblib.dump(model, buffer)
        blob = buffer.getvalue()
        name = f"v{created:%Y%m%d-%H%M%S}-{hashlib.sha256(blob).hexdigest()[:8]}"
        with self.new_version(name) as tmp:
            (tmp / MODEL_FILE).write_bytes(blob)
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
        return name

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

