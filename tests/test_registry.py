import json

import joblib
import pytest

from riskmodel import ArtifactError
from riskmodel.registry import Registry, version_mismatches


def _copy(trained, tmp_path):
    import shutil

    root, result = trained
    dst = tmp_path / "art"
    shutil.copytree(root, dst)
    return Registry(dst), result.version


def test_a_verified_version_loads(trained, tmp_path):
    reg, version = _copy(trained, tmp_path)
    loaded = reg.load()
    assert loaded.version == version
    assert loaded.manifest["files"]["model.joblib"]
    for key in ("libraries", "schema", "training_data", "seed", "code_version", "metrics",
                "created_at"):
        assert key in loaded.manifest
    assert {"python", "scikit-learn", "numpy", "pandas"} <= set(loaded.manifest["libraries"])


def test_a_modified_model_file_is_refused_before_loading(trained, tmp_path, monkeypatch):
    reg, version = _copy(trained, tmp_path)
    path = reg.models / version / "model.joblib"
    path.write_bytes(path.read_bytes() + b"tampered")
    monkeypatch.setattr(joblib, "load", lambda *a, **k: pytest.fail("deserialised"))
    with pytest.raises(ArtifactError, match="model.joblib does not match its checksum"):
        reg.load(version)


def test_a_missing_file_is_refused(trained, tmp_path):
    reg, version = _copy(trained, tmp_path)
    (reg.models / version / "roc.png").unlink()
    with pytest.raises(ArtifactError, match="roc.png is missing"):
        reg.load(version)


def test_other_library_versions_are_refused_with_what_differs(trained, tmp_path):
    reg, version = _copy(trained, tmp_path)
    path = reg.models / version / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["libraries"]["scikit-learn"] = "0.24.2"
    manifest["libraries"]["numpy"] = "1.26.4"
    path.write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError) as info:
        reg.load(version)
    assert "scikit-learn: built with 0.24.2, running" in str(info.value)
    assert "numpy: built with 1.26.4" in str(info.value)


def test_a_changed_contract_is_refused(trained, tmp_path):
    reg, version = _copy(trained, tmp_path)
    path = reg.models / version / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["schema"]["columns"][1]["categories"] = ["US"]
    path.write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="column marketplace changed: categories"):
        reg.load(version)


def test_patch_releases_of_numpy_are_accepted():
    recorded = {"python": "3.11.7", "scikit-learn": "1.9.1", "numpy": "2.4.6",
                "scipy": "1.17.1", "joblib": "1.6.0"}
    current = dict(recorded, numpy="2.4.9", python="3.11.9")
    assert version_mismatches(recorded, current) == []
    assert version_mismatches(recorded, dict(recorded, **{"scikit-learn": "1.9.2"}))


def test_unknown_version_and_no_current(tmp_path):
    reg = Registry(tmp_path)
    with pytest.raises(ArtifactError, match="no model is current"):
        reg.load()
    with pytest.raises(ArtifactError, match="does not exist"):
        reg.load("v1")
    with pytest.raises(ArtifactError, match="not a model version name"):
        reg.load("../etc")


def test_set_current_refuses_an_unverifiable_version(trained, tmp_path):
    reg, version = _copy(trained, tmp_path)
    (reg.models / version / "model.joblib").write_bytes(b"x")
    with pytest.raises(ArtifactError):
        reg.set_current(version)
    assert reg.current_version() == version


def test_the_shipped_default_model_verifies_and_loads():
    from pathlib import Path

    from riskmodel import load_model

    root = Path(__file__).resolve().parents[1] / "artifacts"
    scorer = load_model(root=root)
    assert scorer.version == (root / "CURRENT").read_text().strip()
    assert scorer.manifest["metrics"]["auc_gap_to_bayes"] <= 0.01
    assert scorer.manifest["metrics"]["ece"] <= 0.02
