"""Acceptance (issue 17): the same client's PD and money figures are written identically in
`explain`, the RM page, the tier reason and the recommender's (served) answer; every listed
reason says the direction of its own SHAP value, none is an unknown value, none repeats."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # recommender_factory

import recommender_factory as factory  # noqa: E402

from tierwise.explain import BANDS, ClientCard, _score_line, card_lines  # noqa: E402
from tierwise.features import TASKS, feature_catalog  # noqa: E402
from tierwise.models import format_money, format_probability  # noqa: E402
from tierwise.recommender import build_recommender, request_frame  # noqa: E402
from tierwise.reports import ReportConfig  # noqa: E402
from tierwise.reports._rm_report import client_card  # noqa: E402
from tierwise.settings import load_settings  # noqa: E402


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    folder = factory.make_bank(tmp_path_factory.mktemp("bank"), clients=300)
    settings = load_settings(factory.CONFIG_DIR).for_recommender()
    features = factory.bank_features(folder)
    models = factory.tiny_models(features)
    rec, _ = build_recommender(models, factory.policy_config(), features, factory.feature_config(), n_threads=1,
                               catalogues=settings.reasons)
    answer = rec.recommend(request_frame(features, rec))
    return features, models, settings, answer


def _explain(features: pd.DataFrame, models, settings, client_id: str, lang: str) -> ClientCard:
    families = {n: i.family for n, i in feature_catalog(factory.feature_config()).items()}
    snap = features[features["client_id"].astype(str) == client_id]
    lines = [_score_line(t, models[t], "1", snap, families, settings.reasons, lang, 3, BANDS[t]) for t in TASKS]
    return ClientCard(client_id=client_id, month=dt.date(2024, 4, 1), lang=lang, segment="", scores=lines)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_pd_and_money_read_the_same_in_explain_the_page_the_tier_reason_and_the_answer(scored, lang):
    features, models, settings, answer = scored
    in_default = answer[answer["flag_in_default"].astype(bool)]
    for _, row in in_default.head(3).iterrows():  # 90+ days past due: no PD anywhere, "in default" instead
        card = client_card(row.to_dict(), lang, ReportConfig())
        assert card["default"]["text"] == ("In default" if lang == "en" else "已违约")
        assert ("in default" if lang == "en" else "已违约") in row[f"tier_reason_{lang}"]
    borrowers = answer[(answer["credit_exposure"] > 0) & ~answer["flag_in_default"].astype(bool)]
    checked = with_value = 0
    for _, row in borrowers.head(8).iterrows():
        pd_text = format_probability(float(row["p_default"]), lang)
        card = client_card(row.to_dict(), lang, ReportConfig())
        assert card["default"]["text"].startswith(pd_text + " ")  # the page
        reason = row[f"tier_reason_{lang}"]
        assert pd_text in reason  # the tier reason names the same PD (every risk clause of a borrower does)
        explained = _explain(features, models, settings, str(row["client_id"]), lang)
        headline = dict((t, h) for t, (h, _, _) in zip(TASKS, card_lines(explained), strict=True))["default"]
        assert f" {pd_text} — " in headline  # the terminal
        money = format_money(float(row["expected_value_12m"]), lang)
        assert card["value_text"] == money  # the page
        if ("expected value" if lang == "en" else "预期价值") in reason:
            assert money in reason  # the tier reason
            with_value += 1
        assert card["assets_text"] == format_money(float(row["assets_total"]), lang)
        # the reasons the terminal prints are the answer's (and the page's) sentences
        for task, line in zip(TASKS, explained.scores, strict=True):
            served = [row[f"reason_{task}_{r}_{lang}"] for r in (1, 2, 3) if isinstance(row[f"reason_{task}_{r}_{lang}"], str)]
            assert [r.text for r in line.reasons] == served
        checked += 1
    assert checked >= 5 and with_value >= 1


def test_every_served_reason_says_its_own_direction_is_known_and_unique(scored):
    _, _, _, answer = scored
    words = {"en": ("raises", "lowers"), "zh": ("推高", "降低")}
    listed = 0
    for task in TASKS:
        for lang, (up, down) in words.items():
            for r in (1, 2, 3):
                text, shap = answer[f"reason_{task}_{r}_{lang}"], answer[f"reason_{task}_{r}_shap"]
                given = text.notna()
                assert (given == shap.notna()).all()
                assert text[given & (shap > 0)].str.startswith(up).all()
                assert text[given & (shap < 0)].str.startswith(down).all()
                assert not text[given].str.contains("unknown|not known|未知").any()
                listed += int(given.sum())
            lines = answer[[f"reason_{task}_{r}_{lang}" for r in (1, 2, 3)]].to_numpy(dtype=object)
            for row in lines:
                shown = [t for t in row if isinstance(t, str)]
                assert len(shown) == len(set(shown))
    assert listed > 0
    # balanced: a score below the base value is explained by what lowers it
    assert (answer["reason_churn_1_shap"] < 0).any() and (answer["reason_churn_1_shap"] > 0).any()
    assert np.isfinite(answer["reason_churn_1_shap"].dropna()).all()
