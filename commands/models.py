"""``riskmodel models list|show|promote|rollback``: the model registry."""

from __future__ import annotations

from pathlib import Path

import click

from commands.common import artifacts_option, artifacts_root, fail, model_keys, who
from riskmodel import RiskModelError


@click.group()
def models() -> None:
    """The model registry: list, show, promote, roll back."""


def _registry(artifacts: Path | None):
    from riskmodel import Registry

    signing_key, verify_key = model_keys()
    return Registry(artifacts_root(artifacts), signing_key=signing_key, verify_key=verify_key)


@models.command("list")
@artifacts_option
def models_list(artifacts: Path | None) -> None:
    """Every version, which one is serving, and how it got there."""
    reg = _registry(artifacts)
    current = reg.current_version()
    events = {e["version"]: e for e in reg.history()}
    for version in reg.versions():
        try:
            m = reg.manifest(version)
            auc = m.get("metrics", {}).get("roc_auc")
            gate = m.get("gate", {}).get("decision", "")
            line = f"{m.get('created_at', '?'):<26} AUC {auc:.4f}  {gate:<9}"
        except RiskModelError as e:
            line = f"unreadable: {e}"
        mark = "*" if version == current else " "
        ev = events.get(version)
        how = f"  {ev['action']} by {ev['by']}: {ev['reason']}" if ev else ""
        click.echo(f"{mark} {version}  {line}{how}")


@models.command("show")
@click.argument("version")
@artifacts_option
def models_show(version: str, artifacts: Path | None) -> None:
    """A version's manifest summary and gate report."""
    import json

    reg = _registry(artifacts)
    try:
        m = reg.verify(version)
    except RiskModelError as e:
        raise fail(e) from None
    summary = {k: m.get(k) for k in ("version", "created_at", "code_version", "model",
                                     "bands", "training_data", "gate")}
    summary["metrics"] = {k: v for k, v in m.get("metrics", {}).items()
                          if k != "calibration_table"}
    summary["serving"] = version == reg.current_version()
    click.echo(json.dumps(summary, indent=2, default=str))


@models.command("promote")
@click.argument("version")
@click.option("--reason", default="promoted by hand", show_default=True)
@artifacts_option
def models_promote(version: str, reason: str, artifacts: Path | None) -> None:
    """Make a verified version current (the service picks it up without a restart)."""
    try:
        event = _registry(artifacts).promote(version, by=who(), reason=reason)
    except RiskModelError as e:
        raise fail(e) from None
    click.echo(f"{event['version']} is current (was {event['previous']})")


@models.command("rollback")
@artifacts_option
def models_rollback(artifacts: Path | None) -> None:
    """Return to the version that was current before the current one."""
    try:
        event = _registry(artifacts).rollback(by=who())
    except RiskModelError as e:
        raise fail(e) from None
    click.echo(f"rolled back to {event['version']} (from {event['previous']})")


@models.command("convert")
@click.argument("version")
@click.option("--promote", is_flag=True,
              help="Make the converted version current (when the old one was, say).")
@artifacts_option
def models_convert(version: str, promote: bool, artifacts: Path | None) -> None:
    """Convert a version of the old pickle format (1) into a new version of the data
    format, which the service and batch scoring load. This reads the pickle, which can run
    code: convert only versions whose source you trust. The old version is left as it is;
    the new one must score generated campaigns as the old one did (to 1e-12)."""
    try:
        from training.convert import convert
    except ImportError as e:
        raise click.ClickException(f"converting needs the training dependencies "
                                   f"(scikit-learn, joblib): {e}") from None
    root = artifacts_root(artifacts)
    try:
        new = convert(root, version, signing_key=model_keys()[0])
        click.echo(f"{version} converted to {new}")
        if promote:
            event = _registry(artifacts).promote(new, by=who(),
                                                 reason=f"converted from {version}")
            click.echo(f"{event['version']} is current (was {event['previous']})")
    except RiskModelError as e:
        raise fail(e) from None


@models.command("keygen")
@click.option("--private", "private", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="Where the private (signing) key goes: for training and "
              "promotion only, never on a serving host.")
@click.option("--public", "public", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="Where the public (verify) key goes: for the service and "
              "the command line.")
def models_keygen(private: Path, public: Path) -> None:
    """Make an Ed25519 key pair for signed versions (RISKMODEL_SIGNING_KEY names the
    private key, RISKMODEL_VERIFY_KEY the public one). Existing files are not replaced."""
    import os

    from riskmodel import generate_keys

    for path in (private, public):
        if path.exists():
            raise click.ClickException(f"{path} exists; keys are never overwritten")
    secret, shared = generate_keys()
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(secret)
    public.write_bytes(shared)
    click.echo(f"private key: {private} (mode 600)\npublic key: {public}")
