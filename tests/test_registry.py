import json
import shutil
from pathlib import Path

import pytest

from riskmodel import ArtifactError
from riskmodel.registry import Registry

LEGACY = Path(__file__).resolve().parent / "data" / "legacy"


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
    assert loaded.manifest["files"]["model.json"] and loaded.manifest["files"]["model.npz"]
    assert loaded.manifest["format"] == 2 and "model.joblib" not in loaded.manifest["files"]
    for key in ("libraries", "schema", "training_data", "seed", "code_version", "metrics",
                "created_at"):
        assert key in loaded.manifest
    assert {"python", "scikit-learn", "numpy", "pandas"} <= set(loaded.manifest["libraries"])


@pytest.mark.parametrize("name", ["model.npz", "model.json"])
def test_a_modified_model_file_is_refused_before_loading(trained, tmp_path, monkeypatch, name):
    from riskmodel import artifact

    reg, version = _copy(trained, tmp_path)
    path = reg.models / version / name
    path.write_bytes(path.read_bytes() + b"tampered")
    monkeypatch.setattr(artifact, "load", lambda *a, **k: pytest.fail("parsed"))
    with pytest.raises(ArtifactError, match=f"{name} does not match its checksum"):
        reg.load(version)


def test_each_file_is_read_once_and_the_bytes_read_are_the_bytes_parsed(trained, tmp_path,
                                                                         monkeypatch):
    """No hash-then-reopen: a file changed after it was read cannot reach the parser."""
    from riskmodel import artifact, registry

    reg, version = _copy(trained, tmp_path)
    reads: list[str] = []
    real_read = registry.read_bytes

    def read_then_tamper(path):
        data = real_read(path)
        reads.append(Path(path).name)
        if Path(path).name == "model.npz":  # overwritten right after it was read
            Path(path).write_bytes(b"not what was hashed")
        return data

    parsed = {}
    real_load = artifact.load
    monkeypatch.setattr(registry, "read_bytes", read_then_tamper)
    monkeypatch.setattr(artifact, "load", lambda files: parsed.update(files) or real_load(files))
    loaded = reg.load(version)
    assert sorted(reads) == sorted([*loaded.manifest["files"], "manifest.json"])
    import hashlib

    assert hashlib.sha256(parsed["model.npz"]).hexdigest() == loaded.manifest["files"][
        "model.npz"]


def test_a_symlinked_version_folder_is_not_listed_loaded_or_promoted(trained, tmp_path):
    reg, version = _copy(trained, tmp_path)
    outside = tmp_path / "outside"
    shutil.copytree(reg.models / version, outside)
    (reg.models / "v99999999-000000-linked00").symlink_to(outside, target_is_directory=True)
    assert "v99999999-000000-linked00" not in reg.versions()
    for attempt in (reg.load, reg.verify, reg.set_current):
        with pytest.raises(ArtifactError, match="symbolic link"):
            attempt("v99999999-000000-linked00")
    assert reg.current_version() == version


def test_a_symlinked_model_file_is_refused(trained, tmp_path):
    reg, version = _copy(trained, tmp_path)
    path = reg.models / version / "model.npz"
    outside = tmp_path / "model.npz"
    shutil.move(path, outside)
    path.symlink_to(outside)  # same bytes, same checksum: refused because it is a link
    with pytest.raises(ArtifactError, match="model.npz is not a file of the version"):
        reg.load(version)


def test_a_manifest_naming_a_path_out_of_the_version_is_refused(trained, tmp_path):
    reg, version = _copy(trained, tmp_path)
    secret = tmp_path / "art" / "secret.txt"
    secret.write_text("x")
    path = reg.models / version / "manifest.json"
    manifest = json.loads(path.read_text())
    import hashlib

    manifest["files"]["../../secret.txt"] = hashlib.sha256(b"x").hexdigest()
    path.write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=r"\.\./\.\./secret.txt is not a file of"):
        reg.load(version)


def test_a_version_in_the_pickle_format_is_refused_with_what_to_do(tmp_path):
    root = tmp_path / "legacy"
    shutil.copytree(LEGACY, root)
    reg = Registry(root)
    version = reg.current_version()
    for attempt in (reg.load, reg.verify, reg.set_current):
        with pytest.raises(ArtifactError, match=f"riskmodel models convert {version}"):
            attempt(version)


def test_a_missing_file_is_refused(trained, tmp_path):
    reg, version = _copy(trained, tmp_path)
    (reg.models / version / "roc.png").unlink()
    with pytest.raises(ArtifactError, match="roc.png is missing"):
        reg.load(version)


def _rewrite_manifest(reg, version, change) -> None:
    """Change a manifest and keep its own listing consistent (it is not checksummed)."""
    path = reg.models / version / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def test_other_library_versions_load_the_format_decides(trained, tmp_path):
    reg, version = _copy(trained, tmp_path)
    _rewrite_manifest(reg, version, lambda m: m["libraries"].update(
        {"scikit-learn": "0.24.2", "numpy": "1.26.4"}))
    assert reg.load(version).version == version


def test_another_format_is_refused_with_what_to_do(trained, tmp_path):
    reg, version = _copy(trained, tmp_path)
    _rewrite_manifest(reg, version, lambda m: m.update(format=3))
    with pytest.raises(ArtifactError, match="model format 3; this riskmodel reads format 2"):
        reg.load(version)


def test_a_changed_contract_is_refused(trained, tmp_path):
    reg, version = _copy(trained, tmp_path)
    path = reg.models / version / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["schema"]["columns"][1]["categories"] = ["US"]
    path.write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="column marketplace changed: categories"):
        reg.load(version)


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
    (reg.models / version / "model.npz").write_bytes(b"x")
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
