"""`tierwise train`, `tierwise promote` and `tierwise predict`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from tierwise.cli import app
from tierwise.cli._common import (
    ConfigDirOption,
    existing_dir,
    existing_file,
    load_settings,
    progress_bar,
)

if TYPE_CHECKING:
    from tierwise.features import DatasetConfig
    from tierwise.settings import Settings

console = Console()

TASK_HELP = ("Synthetic-bank task: churn, default, growth, all (the three), products (every product "
             "propensity of products.yaml) or adopt_<product> (one).")
DEFAULT_BANK = Path("outputs/bank")


def _tasks(task: str, settings: Settings | None = None) -> list[str]:
    from tierwise.features import TASKS, task_product

    if task == "all":
        return list(TASKS)
    if task == "products" or task_product(task) is not None:
        family = settings.require("products").task_configs() if settings is not None else {}
        if task == "products":
            return list(family)
        if task not in family:
            raise typer.BadParameter(f"'{task}' is not a product of products.yaml", param_hint="--task")
        return [task]
    if task not in TASKS:
        raise typer.BadParameter(f"'{task}' is not a task; one of {', '.join(TASKS)}, all, products, adopt_<product>",
                                 param_hint="--task")
    return [task]


def _task_configs(tasks: list[str], settings: Settings) -> dict:
    """The task config of each task: its models/<task>.yaml, or the product family's."""
    family = settings.products.task_configs() if settings.products is not None else {}
    return {t: family[t] if t in family else settings.task(t) for t in tasks}


_SHOWN = ("roc_auc", "pr_auc", "ks", "brier", "ece", "lift_top_decile", "capture_top_decile", "rmse", "spearman",
          "oracle_roc_auc", "oracle_ratio", "cv_roc_auc_mean", "cv_roc_auc_std", "oof_ece", "oof_brier",
          "cv_spearman_mean", "cv_rmse_mean")


def _summary(rows: list[tuple]) -> None:
    table = Table(title="trained models")
    for col in ("model", "version", "candidate", "metrics", "alias"):
        table.add_column(col)
    for info, result in rows:
        shown = "  ".join(f"{k}={result.metrics[k]:.4f}" for k in _SHOWN if k in result.metrics)
        alias = "champion, challenger" if info.champion else "challenger"
        table.add_row(info.name, info.version, result.model.candidate_, shown, alias)
    console.print(table)


def _checked_target(task: str | None, dataset: Path | None, config_dir_opt: Path | None
                    ) -> tuple[Settings, DatasetConfig | None]:
    """Exactly one of --task / --dataset, an existing dataset YAML; returns the settings and
    the parsed dataset config (None for --task)."""
    from tierwise.config import load_config
    from tierwise.features import DatasetConfig

    if (task is None) == (dataset is None):
        raise typer.BadParameter("give exactly one of --task or --dataset", param_hint="--task/--dataset")
    settings = load_settings(config_dir_opt)
    if dataset is None:
        return settings, None
    existing_file(dataset, option="--dataset")
    return settings, load_config(dataset, DatasetConfig).located_at(dataset)


@app.command("train")
def train(
    task: str = typer.Option(None, "--task", help=TASK_HELP),
    dataset: Annotated[Path | None, typer.Option("--dataset", help="A flat-table dataset YAML (configs/datasets/X.yaml).")] = None,
    data: Annotated[Path | None, typer.Option("--data", help="Bank folder (for --task; default outputs/bank) or table file (for --dataset).")] = None,
    budget_minutes: float = typer.Option(None, "--budget-minutes", min=0, help="Optuna tuning budget (default: the task config's)."),
    snapshots: int = typer.Option(8, "--snapshots", min=3, help="Latest usable snapshot months to stack (--task)."),
    config_dir_opt: Path = ConfigDirOption,
) -> None:
    """Train, evaluate, log to MLflow and register a model (alias challenger)."""
    from tierwise import training
    from tierwise.features import DataError

    settings, flat = _checked_target(task, dataset, config_dir_opt)
    if flat is not None:
        if data is not None:
            existing_file(data, option="--data")
        with progress_bar(f"training {dataset.stem}", None) as advance:
            info, result, report = training.train_dataset(flat, data_path=data, template=settings.flat,
                                                          budget_minutes=budget_minutes, progress=advance)
        console.print(str(report).splitlines()[0])
        _summary([(info, result)])
        return
    tasks = _tasks(task, settings)
    configs = _task_configs(tasks, settings)
    feature_config, catalogues = settings.require("features"), settings.require("reasons")
    bank = existing_dir(data or DEFAULT_BANK, option="--data")
    untrainable: dict[str, str] | None = {} if len(tasks) > 1 else None  # --task all: train what the data can
    with progress_bar("training " + ", ".join(tasks), None) as advance:
        rows = training.train_tasks(tasks, data_dir=bank, configs=configs, feature_config=feature_config,
                                    catalogues=catalogues, budget_minutes=budget_minutes,
                                    n_snapshots=snapshots, progress=advance, untrainable=untrainable)
    if rows:
        _summary(rows)
    for reason in (untrainable or {}).values():
        console.print(f"not trained: {reason}", highlight=False, soft_wrap=True)
    if not rows:
        raise DataError("no task could be trained on this data (see above); `tierwise profile --data "
                        f"{bank}` says what each task lacks")


@app.command("promote")
def promote(
    task: str = typer.Option(None, "--task", help="Synthetic-bank task: churn, default, growth or adopt_<product> (one at a time)."),
    dataset: Annotated[Path | None, typer.Option("--dataset", help="A flat-table dataset YAML.")] = None,
    data: Annotated[Path | None, typer.Option("--data", help="Bank folder (for --task; default outputs/bank) or table file.")] = None,
    snapshots: int = typer.Option(8, "--snapshots", min=3, help="Snapshot months, as in training (--task)."),
    card_out: Annotated[Path, typer.Option("--card-out", help="Folder for the approved version's governance card.")] = Path("outputs/governance"),
    config_dir_opt: Path = ConfigDirOption,
) -> None:
    """Compare challenger and champion on the same latest out-of-time data; promote only a better model.
    The challenger must be better beyond noise: the paired-bootstrap interval of the metric's
    difference (promotion: in monitor.yaml) must lie above zero; the difference and interval are printed.
    The reviewer ($TIERWISE_APPROVER or the OS user) and time are recorded as model-version tags."""
    from rich.markup import escape

    from tierwise import governance, registry, training

    settings, flat = _checked_target(task, dataset, config_dir_opt)
    if flat is not None:
        name, frame = training.promotion_data_dataset(flat, data)
    else:
        tasks = _tasks(task, settings) if task != "all" else []  # adopt_<product>: a product of products.yaml
        if len(tasks) != 1:
            raise typer.BadParameter("promote one task at a time", param_hint="--task")
        (single,) = tasks
        bank = existing_dir(data or DEFAULT_BANK, option="--data")
        name = registry.registered_name(single)
        frame = training.promotion_data_task(single, data_dir=bank, feature_config=settings.require("features"),
                                             n_snapshots=snapshots)
    result = training.promote(name, frame, comparison=settings.monitor_or_default.promotion)
    champ = (f"v{result.champion_version} {result.metric}={result.champion_value:.4f}"
             if result.champion_value is not None and result.champion_version != result.challenger_version
             else "none other")
    console.print(f"{name} on {result.rows} rows: challenger v{result.challenger_version} "
                  f"{result.metric}={result.challenger_value:.4f}; champion {champ}")
    colour = "green" if result.promoted or result.champion_version == result.challenger_version else "yellow"
    console.print(f"[{colour}]{escape(governance.promotion_message(result))}[/]")
    _governance_card(name, result, card_out, settings)


def _governance_card(name: str, result, out: Path, settings: Settings) -> None:  # noqa: ANN001 - training.Promotion
    """The approved (promoted or confirmed) version's governance pack; a failure here is a warning,
    the promotion itself stands."""
    from tierwise import governance
    from tierwise.features import TierwiseError

    decision = governance.review_decision(result)
    console.print(f"review recorded on v{result.challenger_version}: {decision} by {governance.approver()}")
    if decision == "refused":
        return
    try:
        pack = governance.write_pack(name, version=result.challenger_version, out_dir=out,
                                     monitor=settings.monitor, features=settings.features)
    except TierwiseError as exc:
        console.print(f"[yellow]governance card not written[/]: {exc}; run `tierwise governance --model {name}`")
        return
    console.print(f"governance card: {pack.html}", highlight=False)


@app.command("predict")
def predict(
    model: Annotated[str, typer.Option("--model", help="Model URI, e.g. models:/tierwise-churn@champion.")],
    data: Annotated[Path, typer.Option("--data", help="CSV or Parquet table with the model's input columns.")],
    out: Annotated[Path, typer.Option("--out", help="Output CSV or Parquet: id columns and `score`.")],
) -> None:
    """Write the id columns and the calibrated score for every row of a table."""
    from tierwise import training

    existing_file(data, option="--data")
    scored = training.predict_file(model, data, out)
    console.print(f"wrote {len(scored)} scores to {out}")
