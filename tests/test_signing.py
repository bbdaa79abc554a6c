"""Signed versions (riskmodel/signing.py): signed, unsigned, tampered and wrong-key
versions through the registry, the service and the command line."""

import json
import shutil

import pytest

from commands.main import main
from riskmodel import Registry, SignatureError, generate_keys, load_model

SIGNED, UNSIGNED, TAMPERED, WRONG = ("v30000101-000000-signed00", "v30000101-000000-unsign00",
                                     "v30000101-000000-tamper00", "v30000101-000000-wrongk00")


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """Two key pairs as files: ours (a) and another (b)."""
    folder = tmp_path_factory.mktemp("keys")
    out = {}
    for name in ("a", "b"):
        private, public = generate_keys()
        (folder / f"{name}.key").write_bytes(private)
        (folder / f"{name}.pub").write_bytes(public)
        out[name] = (folder / f"{name}.key", folder / f"{name}.pub")
    return out


@pytest.fixture
def signed_root(trained, keys, tmp_path):
    """Four copies of the trained version: signed by a, unsigned, signed by a and then
    changed (a file and its checksum in the manifest), signed by b; CURRENT the signed."""
    src, result = trained
    root = tmp_path / "art"
    (root / "models").mkdir(parents=True)
    for name in (SIGNED, UNSIGNED, TAMPERED, WRONG):
        shutil.copytree(src / "models" / result.version, root / "models" / name)
    (root / "CURRENT").write_text(SIGNED + "\n")
    Registry(root, signing_key=keys["a"][0].read_bytes()).sign(SIGNED)
    Registry(root, signing_key=keys["a"][0].read_bytes()).sign(TAMPERED)
    Registry(root, signing_key=keys["b"][0].read_bytes()).sign(WRONG)
    folder = root / "models" / TAMPERED
    card = folder / "model_card.md"
    card.write_text(card.read_text() + "\nAll is well.\n")
    import hashlib

    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["model_card.md"] = hashlib.sha256(card.read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return root


WHY = {UNSIGNED: "unsigned", TAMPERED: "bad-signature", WRONG: "wrong-key"}
MESSAGE = {UNSIGNED: "is not signed", TAMPERED: "does not match its manifest",
           WRONG: "not by the verify key"}


def test_the_registry_loads_only_what_the_verify_key_signed(signed_root, keys):
    public = keys["a"][1].read_bytes()
    assert load_model(SIGNED, root=signed_root, verify_key=public).version == SIGNED
    for version, why in WHY.items():
        with pytest.raises(SignatureError, match=MESSAGE[version]) as info:
            load_model(version, root=signed_root, verify_key=public)
        assert info.value.reason == why
    # without a verify key, as before: consistent checksums load, signed or not
    for version in (SIGNED, UNSIGNED, WRONG, TAMPERED):
        assert load_model(version, root=signed_root).version == version


def test_training_signs_what_it_writes(trained, keys, tmp_path):
    _, result = trained
    reg = Registry(tmp_path, signing_key=keys["a"][0].read_bytes(),
                   verify_key=keys["a"][1].read_bytes())
    version = reg.write(result.model, {"metrics": {}})
    assert (tmp_path / "models" / version / "manifest.sig").is_file()
    assert reg.load(version).version == version


def test_the_service_refuses_and_keeps_serving_the_signed_version(signed_root, keys):
    from service import create_app

    app = create_app({"artifacts": str(signed_root), "reload_interval": 3600.0,
                      "verify_key": str(keys["a"][1])})
    client = app.test_client()
    holder = app.extensions["riskmodel.holder"]
    assert client.get("/readyz").get_json()["model_version"] == SIGNED
    for version, why in WHY.items():
        (signed_root / "CURRENT").write_text(version + "\n")
        holder.check(force=True)
        r = client.get("/readyz")
        body = r.get_json()
        assert r.status_code == 200 and body["model_version"] == SIGNED
        assert body["last_refused"]["version"] == version
        assert body["last_refused"]["kind"] == why
        assert MESSAGE[version] in body["last_refused"]["reason"]
        metrics = client.get("/metrics").get_data(as_text=True)
        assert f'riskmodel_model_refused_total{{reason="{why}"}} 1.0' in metrics


def test_an_unsigned_current_version_leaves_the_service_unready(signed_root, keys):
    from service import create_app

    (signed_root / "CURRENT").write_text(UNSIGNED + "\n")
    client = create_app({"artifacts": str(signed_root),
                         "verify_key": str(keys["a"][1])}).test_client()
    r = client.get("/readyz")
    assert r.status_code == 503 and "is not signed" in r.get_json()["reason"]


def test_the_command_line_refuses_unsigned_tampered_and_wrong_key(signed_root, keys, runner,
                                                                   plans_csv, tmp_path):
    env = {"RISKMODEL_VERIFY_KEY": str(keys["a"][1]), "RISKMODEL_SIGNING_KEY": ""}
    args = ["--artifacts", str(signed_root)]

    def score(version):
        return runner.invoke(main, ["score", "--in", str(plans_csv), "--out",
                                    str(tmp_path / f"{version}.csv"), "--model", version,
                                    *args], env=env)

    assert score(SIGNED).exit_code == 0
    for version in WHY:
        result = score(version)
        assert result.exit_code == 1 and MESSAGE[version] in result.output
        assert not (tmp_path / f"{version}.csv").exists()
        promoted = runner.invoke(main, ["models", "promote", version, *args], env=env)
        assert promoted.exit_code == 1 and MESSAGE[version] in promoted.output
    assert Registry(signed_root).current_version() == SIGNED
    # whoever promotes with the signing key vouches for the version: it is signed
    env["RISKMODEL_SIGNING_KEY"] = str(keys["a"][0])
    promoted = runner.invoke(main, ["models", "promote", UNSIGNED, *args], env=env)
    assert promoted.exit_code == 0, promoted.output
    assert score(UNSIGNED).exit_code == 0


def test_an_unreadable_key_is_one_clear_error(runner, signed_root, tmp_path):
    result = runner.invoke(main, ["models", "show", SIGNED, "--artifacts", str(signed_root)],
                           env={"RISKMODEL_VERIFY_KEY": str(tmp_path / "nope.pub")})
    assert result.exit_code == 1
    assert "RISKMODEL_VERIFY_KEY names" in result.output and "cannot be read" in result.output


def test_keygen_writes_a_private_key_only_its_owner_reads(runner, tmp_path):
    result = runner.invoke(main, ["models", "keygen", "--private", str(tmp_path / "k"),
                                  "--public", str(tmp_path / "k.pub")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "k").stat().st_mode & 0o777 == 0o600
    again = runner.invoke(main, ["models", "keygen", "--private", str(tmp_path / "k"),
                                 "--public", str(tmp_path / "k2.pub")])
    assert again.exit_code == 1 and "never overwritten" in again.output
