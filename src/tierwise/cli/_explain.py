"""`tierwise explain`: a client's card in the terminal: three scores, their meaning, the reasons."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from tierwise.cli import app
from tierwise.cli._common import ConfigDirOption, existing_dir, load_settings, parse_month

console = Console()
DEFAULT_BANK = Path("outputs/bank")
DEFAULT_ARCHIVE = Path("outputs/archive")
RECOMMENDER_URI = "models:/tierwise-recommender@champion"


@app.command("explain")
def explain(
    client: Annotated[str, typer.Option("--client", help="Client id, e.g. C0000042.")],
    month: Annotated[str, typer.Option("--month", help="Snapshot month, YYYY-MM.")],
    lang: Annotated[str, typer.Option("--lang", help="Language of the card: en or zh.")] = "en",
    task: Annotated[str, typer.Option("--task", help="churn, default, growth or all (all: every task, those "
                                      "without a model shown as not assessed).")] = "all",
    data: Annotated[Path, typer.Option("--data", help="Bank folder with clients and monthly tables.")] = DEFAULT_BANK,
    next_tier: Annotated[bool, typer.Option("--next-tier", help="The card scored by the champion recommender's "
                                            "models, then what would move the client up a tier: verified changes of at "
                                            "most three steps (configs/next_tier.yaml), from the tier the archive holds "
                                            "for the month (tier memory) when it is archived.")] = False,
    archive: Annotated[Path, typer.Option("--archive", help="Client archive whose month gives --next-tier the "
                                          "client's tier, review and tier memory.")] = DEFAULT_ARCHIVE,
    config_dir_opt: Path | None = ConfigDirOption,
) -> None:
    """Print a client's churn, default and growth scores with the top reasons for each (a task
    without a trained model is shown as not assessed)."""
    from tierwise.explain import WORDS, card_lines, explain_client, offer_lines, score_bands

    if lang not in ("en", "zh"):
        raise typer.BadParameter(f"'{lang}' is not a language; one of en, zh", param_hint="--lang")
    when = parse_month(month)
    folder = existing_dir(data, option="--data")
    settings = load_settings(config_dir_opt)
    tasks = None if task == "all" else (task.strip(),)
    if next_tier:  # the card scores with the recommender whose models verify the alternatives
        from tierwise.explain import bundled_models, next_tier_section
        from tierwise.registry import load_recommender

        loaded = load_recommender(RECOMMENDER_URI)
        built = loaded.settings
        card = explain_client(client.strip(), when, data_dir=folder, feature_config=built.features,
                              catalogues=built.reasons or settings.require("reasons"),
                              bands=score_bands(settings.monitor), lang=lang, tasks=tasks,
                              models=bundled_models(loaded))
    else:
        card = explain_client(client.strip(), when, data_dir=folder, feature_config=settings.require("features"),
                              catalogues=settings.require("reasons"), bands=score_bands(settings.monitor), lang=lang,
                              tasks=tasks)
    body = Text()
    for i, (headline, meaning, reasons) in enumerate(card_lines(card)):
        if i:
            body.append("\n")
        body.append(headline, style="bold")
        body.append(f"  ({meaning})\n", style="dim")
        for reason in reasons:
            body.append(f"  • {reason}\n")
    offers = offer_lines(card)
    if offers:
        body.append("\n" + WORDS[lang]["next_products"] + "\n", style="bold")
        for sentence, reason in offers:
            body.append(f"  • {sentence}\n")
            if reason:
                body.append(f"    {reason}\n", style="dim")
    if next_tier:
        section = next_tier_section(client.strip(), when, data_dir=folder, config=settings.require("next_tier"),
                                    loaded=loaded, lang=lang, archive=archive)
        body.append("\n" + section.memory + "\n", style="dim")
        body.append(section.heading + "\n", style="bold")
        for line in section.lines:
            body.append(f"  • {line}\n")
    body.rstrip()
    title = f"{card.client_id} · {card.month:%Y-%m}" + (f" · {card.segment}" if card.segment else "")
    console.print(Panel(body, title=title, expand=False))
