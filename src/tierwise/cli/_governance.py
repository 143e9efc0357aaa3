"""`tierwise governance`: the model card of registered model versions, for model-risk review."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from tierwise.cli import app
from tierwise.cli._common import ConfigDirOption, load_settings

console = Console()
DEFAULT_OUT = Path("outputs/governance")


@app.command("governance")
def governance(
    model: Annotated[str, typer.Option("--model", help="Registered model name, e.g. tierwise-default or tierwise-recommender.")],
    version: Annotated[str | None, typer.Option("--version", help="Model version number (default: the --alias version).")] = None,
    alias: Annotated[str | None, typer.Option("--alias", help="Model alias (default champion).")] = None,
    every: Annotated[bool, typer.Option("--all", help="Every registered version of the model.")] = False,
    out: Annotated[Path, typer.Option("--out", help="Folder; cards go to OUT/<model>/v<version>/.")] = DEFAULT_OUT,
    config_dir_opt: Path | None = ConfigDirOption,
) -> None:
    """Governance pack: the model card of a registered version (card.md, card.html), logged to its MLflow run.

    Purpose, data window and fingerprint, features, out-of-time metrics, calibration tests by grade, fairness,
    stability, known limitations and who approved the promotion."""
    from tierwise import governance as gov

    if sum(x is not None and x is not False for x in (version, alias, every or None)) > 1:
        raise typer.BadParameter("give at most one of --version, --alias or --all", param_hint="--version/--alias/--all")
    if version is not None and not version.isdigit():
        raise typer.BadParameter(f"'{version}' is not a version number", param_hint="--version")
    settings = load_settings(config_dir_opt)
    parts = {"monitor": settings.monitor, "features": settings.features}
    if every:
        packs = gov.write_packs(model, out_dir=out, **parts)
    else:
        packs = [gov.write_pack(model, version=version, alias=alias, out_dir=out, **parts)]
    for pack in packs:
        console.print(f"{pack.name} v{pack.version}: wrote {pack.markdown} and {pack.html}; "
                      f"logged to run {pack.run_id} ({pack.artifact_uri})", highlight=False, soft_wrap=True)
