"""One-time conversion of a version in the old pickle format (1) to the data format (2).

The only place that still unpickles a model, on the training side and on an operator's
explicit command (``riskmodel models convert``): a pickle can run code as it loads, so
convert only versions whose source you trust. The converted version is a new version (the
old one stays as it was, refused by every load path); its manifest says what it came from,
and its card and plots are carried over. The conversion checks itself: the new version must
give the old model's risks, to 1e-12, on generated campaigns.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from riskmodel import AdditiveRiskModel, ArtifactError, Registry, load_model

LEGACY_FILE = "model.joblib"
# How closely the converting environment must match the one that pickled the model:
# scikit-learn objects load only on the same release; numpy, scipy, joblib and Python
# itself on the same minor release.
_MATCH = {"python": 2, "scikit-learn": 3, "numpy": 2, "scipy": 2, "joblib": 2}
# what Registry.write records afresh for the new version
_REWRITTEN = ("format", "version", "created_at", "libraries", "schema", "schema_fingerprint",
              "files", "signature")


def version_mismatches(recorded: dict[str, str], current: dict[str, str]) -> list[str]:
    """Describe every library whose version cannot unpickle what the recorded one wrote."""
    out = []
    for lib, parts in _MATCH.items():
        want, have = recorded.get(lib), current.get(lib)
        if want is None:
            out.append(f"{lib}: not recorded in the manifest")
        elif want.split(".")[:parts] != (have or "").split(".")[:parts]:
            level = "the same release" if parts == 3 else "the same minor release"
            out.append(f"{lib}: built with {want}, running {have} (needs {level})")
    return out


def _libraries() -> dict[str, str]:
    import platform

    import joblib
    import numpy
    import scipy
    import sklearn

    return {"python": platform.python_version(), "scikit-learn": sklearn.__version__,
            "numpy": numpy.__version__, "scipy": scipy.__version__,
            "joblib": joblib.__version__}


def convert(root: str | Path, version: str, *, check_rows: int = 2000,
            signing_key: bytes | None = None) -> str:
    """Convert format-1 ``version`` under ``root`` into a new version; return its name.

    Raises :class:`ArtifactError` when the version is not of format 1, fails its checksums,
    was pickled by other library releases, or converts to different risks.
    """
    import joblib

    registry = Registry(root, signing_key=signing_key)
    read = registry.read(version)  # every file once, checked against its checksum
    old = read.manifest
    if old.get("format") != 1 or LEGACY_FILE not in read.files:
        raise ArtifactError(f"model version {version!r} is not in the old pickle format "
                            f"(format {old.get('format')!r}); nothing to convert")
    problems = version_mismatches(old.get("libraries", {}), _libraries())
    problems += registry.schema_problems(old)
    if problems:
        raise ArtifactError(f"model version {version!r} cannot be converted here:\n  - "
                            + "\n  - ".join(problems))
    model = joblib.load(io.BytesIO(read.files[LEGACY_FILE]))  # the trusted, explicit step
    if not isinstance(model, AdditiveRiskModel) or model.solver_ is None:
        raise ArtifactError(f"model version {version!r} holds a {type(model).__name__} "
                            "that is not a fitted AdditiveRiskModel")
    model.coef_ = np.array(model.solver_.coef_[0], dtype=float)
    model.intercept_ = float(model.solver_.intercept_[0])
    manifest = {k: v for k, v in old.items() if k not in _REWRITTEN}
    manifest["converted_from"] = {"version": version, "format": 1,
                                  "created_at": old.get("created_at"),
                                  "libraries": old.get("libraries"),
                                  "sha256": old["files"][LEGACY_FILE]}

    def carry_over(directory: Path, m: dict) -> None:
        for name, data in read.files.items():
            if name != LEGACY_FILE:
                path = directory / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)

    new = registry.write(model, manifest, extra=carry_over)
    try:
        _check(model, load_model(new, root=root), check_rows)
    except Exception:
        import shutil

        shutil.rmtree(Path(root) / "models" / new, ignore_errors=True)
        raise
    return new


def _check(old: AdditiveRiskModel, new, rows: int) -> None:
    """The converted version must score generated campaigns as the pickle's own solver
    does (raises, naming the largest difference, otherwise)."""
    from scipy.special import expit

    from riskmodel import SCHEMA, validate_campaigns
    from training.synthetic import generate

    frame = generate(rows, seed=16)[list(SCHEMA.names)]
    v = validate_campaigns(frame)
    v.raise_for_errors()
    assert old.solver_ is not None
    a, b = old.calibration_
    raw = old.solver_.decision_function(old.transform(v.batch))
    reference = expit(a * raw + b)
    risks = new.compute(v.batch).risk
    worst = float(np.max(np.abs(risks - reference))) if rows else 0.0
    if not worst <= 1e-12:
        raise ArtifactError(f"the converted model differs from the pickle by up to "
                            f"{worst:.3g} in risk; no version was written")
