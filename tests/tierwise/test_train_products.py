"""`tierwise train --task products` (issue 20, item 3): every product of products.yaml trained
through the one trainer, calibrated, registered in a real MLflow registry in tmp_path; a
product whose column the extract leaves empty is skipped and named; a bad product name is one
line; a product model is promoted one product at a time, like any task."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from tierwise import tracking
from tierwise.cli import main
from tierwise.synthetic import (
    DataConfig,
    LabelsConfig,
    OracleConfig,
    ProductsConfig,
    generate_bank,
    write_bank,
)

REPO = Path(__file__).resolve().parents[2]
MONTHS = 24


def run(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["tierwise", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> tuple[Path, Path]:
    """(bank folder, config folder): 2,000 clients x 24 months with product adoption; the
    insurance column emptied (a bank that does not extract it); three products configured."""
    root = tmp_path_factory.mktemp("products")
    cfg = DataConfig(oracle=OracleConfig(pairs=4000, snapshots=4),
                     labels=LabelsConfig(churn_horizon_months=6, default_horizon_months=6, growth_horizon_months=6),
                     products=ProductsConfig())
    bank = root / "bank"
    write_bank(generate_bank(cfg, clients=2000, months=MONTHS, seed=3), bank)
    monthly = pd.read_parquet(bank / "monthly.parquet")
    monthly["insurance_balance"] = 0.0
    monthly.to_parquet(bank / "monthly.parquet", index=False)
    configs = root / "configs"
    shutil.copytree(REPO / "configs", configs)
    features = yaml.safe_load((configs / "features.yaml").read_text(encoding="utf-8"))
    features["history_months"] = MONTHS
    (configs / "features.yaml").write_text(yaml.safe_dump(features), encoding="utf-8")
    family = yaml.safe_load((configs / "products.yaml").read_text(encoding="utf-8"))
    family["products"] = {p: family["products"][p] for p in ("credit_card", "mobile_banking", "insurance")}
    family["model"]["n_estimators"] = 40  # small: seconds per model
    (configs / "products.yaml").write_text(yaml.safe_dump(family, allow_unicode=True), encoding="utf-8")
    return bank, configs


def test_train_products_registers_each_and_names_the_empty_one(world, monkeypatch, capsys):
    bank, configs = world
    code, out, err = run(monkeypatch, capsys, "train", "--task", "products", "--data", str(bank),
                         "--config-dir", str(configs), "--snapshots", "6")
    assert code == 0, err
    assert "Traceback" not in err
    text = " ".join(out.split())
    assert "not trained: adopt_insurance: no adoption can be read: column insurance_balance is empty" in text
    client = MlflowClient(tracking_uri=tracking.tracking_uri(), registry_uri=tracking.tracking_uri())
    names = {m.name for m in client.search_registered_models()}
    assert {"tierwise-adopt_credit_card", "tierwise-adopt_mobile_banking"} <= names
    assert "tierwise-adopt_insurance" not in names
    for product in ("credit_card", "mobile_banking"):
        version = client.get_model_version_by_alias(f"tierwise-adopt_{product}", "challenger")
        metrics = client.get_run(version.run_id).data.metrics
        assert metrics["roc_auc"] > 0.6, product  # learns who adopts, out of time and on unseen clients
        assert "ece" in metrics and metrics["ece"] < 0.1  # calibrated
        assert "oracle_ratio" in metrics


def test_an_unknown_product_task_is_one_line(world, monkeypatch, capsys):
    bank, configs = world
    code, out, err = run(monkeypatch, capsys, "train", "--task", "adopt_funds", "--data", str(bank),
                         "--config-dir", str(configs))
    assert code != 0
    assert "Traceback" not in err
    assert "'adopt_funds' is not a product of products.yaml" in " ".join(err.split())


def test_promote_takes_one_product_task_and_refuses_the_family_in_one_line(world, monkeypatch, capsys):
    bank, configs = world
    common = ("--data", str(bank), "--config-dir", str(configs), "--snapshots", "6")
    code, _, err = run(monkeypatch, capsys, "train", "--task", "adopt_credit_card", *common)
    assert code == 0, err
    code, out, err = run(monkeypatch, capsys, "promote", "--task", "adopt_credit_card", *common,
                         "--card-out", str(bank.parent / "governance"))
    assert code == 0, err
    assert "tierwise-adopt_credit_card on" in " ".join(out.split())
    client = MlflowClient(tracking_uri=tracking.tracking_uri(), registry_uri=tracking.tracking_uri())
    assert str(client.get_model_version_by_alias("tierwise-adopt_credit_card", "champion").version) == "1"
    code, out, err = run(monkeypatch, capsys, "promote", "--task", "products", *common)
    assert code != 0 and "Traceback" not in err
    assert "promote one task at a time" in " ".join(err.split())
