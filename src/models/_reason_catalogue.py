"""Reason catalogues: the words of a reason code, per feature family, in one language.

A catalogue (`configs/reasons/en.yaml`, `configs/reasons/zh.yaml`) has one entry per feature
family (`features.feature_catalog`: correlated variants such as `deposit_total_chg_3m/_6m/_12m`
share the family `deposit_trend`). An entry maps the family's features to templates; the reason
for a client is phrased with the template of the family's feature that pushed the score most
(the first feature listed is the family's representative). A template fills `{value}` with the
client's value of that feature, formatted by `format`, and `{effect}` with "raises churn
likelihood" / "推高流失可能性" (the catalogue's `effect_up` / `effect_down` for the model's score).

Which phrase is used:
- `text`: always (a level: "Total deposits: 12,300");
- `up` / `down`: by the sign of the value (a change: "Deposits grew 12%" / "Deposits fell 42%");
  the value is then shown without its sign;
- `zero`: when the value rounds to zero ("No complaints in the last 6 months");
- `missing`: when the value is empty; without it an empty (unknown) value is never a reason;
- `below`: when the value is under the template's `min_value` (a text that presumes a level,
  "volatile", reads "steady" below it); `min_value` without `below`: such a value is never a reason.

Each reason is written into the catalogue's `reason_format` ("{effect}: {reason}") so it says
whether it raises or lowers the score; `min_shap` is the smallest |SHAP| listed; money is
written with `currency` by `models._numbers.format_money`.

Windows: an entry keyed `days_past_due_max_{w}m` is the template of every window the bank's
`features.yaml` configures that the family does not list by name; `{w}` in its phrases is the
window and `{w1}` the window plus one (a w-month change reads w + 1 months). `for_windows`
writes those entries out (the settings do it when they load), so a bank whose history gives
windows 1, 3, 9 still has a phrase for `days_past_due_max_9m`. Named entries come first and win.

Protected attributes (gender, birth year, age band, ...) and personal data (ids, names) never
appear in a reason: a catalogue naming one as a family or feature is refused, and
`check_catalogue_coverage` refuses a family that groups one with other features.

Flat tables (the public datasets and any table a data scientist brings) need no hand-written
entries: `flat_catalogues` builds a generic entry per column from the dataset YAML's
`descriptions`, "Age: 62 (raises churn likelihood)" / "Age：62（推高流失可能性）".
"""

from __future__ import annotations

import string
from collections.abc import Collection, Mapping, Sequence
from typing import Literal

import pandas as pd
from pydantic import Field, model_validator

from tierwise.features import ConfigError, FrozenConfig
from tierwise.models._numbers import DEFAULT_CURRENCY

Format = Literal["pct_change", "share", "points", "currency", "count", "days", "months", "ratio",
                 "number", "category"]
LANGUAGES: tuple[str, ...] = ("en", "zh")

DEFAULT_PROTECTED: tuple[str, ...] = (
    "gender", "birth_year", "age_band", "age", "client_id", "customer_id", "customerid", "rm_id",
    "name", "surname", "first_name", "last_name", "phone", "email", "address", "id_number",
)
"""Never in a reason (compared case-insensitively): protected attributes and personal data."""

_PLACEHOLDERS = {"value", "effect"}
_WINDOW_PLACEHOLDERS = {"w", "w1"}
WINDOW_KEY = "{w}"


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


class Template(FrozenConfig):
    """How one feature reads in a reason (see the module docstring for which phrase is used)."""

    format: Format = "number"
    text: str | None = None
    up: str | None = None
    down: str | None = None
    zero: str | None = None
    missing: str | None = None
    min_value: float | None = None
    """A threshold the text presumes ("volatile"): below it the `below` phrase is used, or,
    without one, the value is never a reason."""
    below: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)  # category value -> display word

    @model_validator(mode="after")
    def _phrases(self) -> Template:
        if self.text is None and (self.up is None or self.down is None):
            raise ValueError("give `text`, or both `up` and `down`")
        if self.below is not None and self.min_value is None:
            raise ValueError("a `below` phrase needs the `min_value` it is below")
        for phrase in (self.text, self.up, self.down, self.zero, self.missing, self.below):
            if phrase is None:
                continue
            try:
                unknown = _placeholders(phrase) - _PLACEHOLDERS - _WINDOW_PLACEHOLDERS
            except ValueError as exc:
                raise ValueError(f"bad placeholder in {phrase!r}: {exc}") from None
            if unknown:
                raise ValueError(f"unknown placeholder(s) {sorted(unknown)} in {phrase!r}; "
                                 "allowed: {value}, {effect} (and {w}, {w1} in a '{w}' entry)")
        return self

    @property
    def phrases(self) -> tuple[str, ...]:
        return tuple(p for p in (self.text, self.up, self.down, self.zero, self.missing, self.below) if p is not None)

    def for_window(self, window: int) -> Template:
        """This template with `{w}` and `{w1}` written out for `window`."""
        def fill(phrase: str | None) -> str | None:
            return None if phrase is None else phrase.replace("{w1}", str(window + 1)).replace("{w}", str(window))
        return self.model_copy(update={k: fill(getattr(self, k)) for k in ("text", "up", "down", "zero", "missing", "below")})

    @property
    def signed(self) -> bool:
        """True when the phrase follows the sign of the value (`up` / `down`)."""
        return self.text is None


class NextTierTexts(FrozenConfig):
    """The next-tier texts of one language (`next_tier:` in a reason catalogue).

    `steps[column]`: a change of that monthly column, `{amount}` (money, `format_money`) or
    `{count}`; `open_steps[column]`: the same when the client starts from zero (opens the
    product); `alternative`: one alternative, `{steps}` joined by `joiner`, `{tier}` and `{ev}`
    (the expected value it leads to); `status[code]`: why a client has no alternative
    (`top_tier`, `in_default`, `exit_review`, `not_found`, `not_on_watch`; `{tier}`, `{target}`);
    `heading`: the section's title, `{target}`, `{tier}`, `{months}` (how long the changes are held).
    """

    heading: str
    steps: dict[str, str]
    open_steps: dict[str, str] = Field(default_factory=dict)
    joiner: str
    alternative: str
    status: dict[Literal["top_tier", "in_default", "exit_review", "not_found", "not_on_watch"], str]


class ReasonCatalogue(FrozenConfig):
    """One language's reason texts: `families[family][feature] -> Template`."""

    language: Literal["en", "zh"]
    scores: dict[str, str] = Field(default_factory=dict)  # model -> what its score means
    default_score: str = "the score"
    effect_up: str = "raises {score}"
    effect_down: str = "lowers {score}"
    missing_value: str = "unknown"
    reason_format: str = "{effect}: {reason}"
    """How a reason says its direction: `{effect}` ("raises churn likelihood") and `{reason}`
    (the phrase); a phrase that places `{effect}` itself is kept as it is."""
    min_shap: float = Field(default=0.02, ge=0.0)
    """The smallest summed |SHAP| (log-odds, or log change for growth) of a reason: weaker
    contributions are never listed. Every language sets the same value."""
    unknown_values: tuple[str, ...] = ("unknown",)
    """Category labels that mean "not known" (as a missing value, never a reason)."""
    currency: str = DEFAULT_CURRENCY
    protected: tuple[str, ...] = DEFAULT_PROTECTED
    merge: dict[str, list[str]] = Field(default_factory=dict)  # reason family -> feature families read as one
    families: dict[str, dict[str, Template]]
    next_tier: NextTierTexts | None = None  # the next-tier steps (models.next_tier_texts)

    @model_validator(mode="after")
    def _reason_format(self) -> ReasonCatalogue:
        used = _placeholders(self.reason_format)
        if used != {"effect", "reason"}:
            raise ValueError(f"reason_format {self.reason_format!r} must use {{effect}} and {{reason}}, and only those")
        return self

    @model_validator(mode="after")
    def _no_protected(self) -> ReasonCatalogue:
        protected = {p.lower() for p in self.protected}
        for family, entries in self.families.items():
            if not entries:
                raise ValueError(f"family '{family}' has no feature templates")
            named = [n for n in (family, *entries) if n.lower() in protected]
            if named:
                raise ValueError(f"family '{family}' names protected or personal data ({', '.join(named)}); "
                                 "such values never appear in a reason")
        return self

    @model_validator(mode="after")
    def _window_phrases_in_window_entries(self) -> ReasonCatalogue:
        for family, entries in self.families.items():
            for feature, template in entries.items():
                if WINDOW_KEY in feature:
                    continue
                used = {name for phrase in template.phrases for name in _placeholders(phrase)} & _WINDOW_PLACEHOLDERS
                if used:
                    raise ValueError(f"family '{family}', feature '{feature}': {{{sorted(used)[0]}}} is only for "
                                     "an entry keyed with '{w}' (e.g. days_past_due_max_{w}m)")
        return self

    def for_windows(self, windows: Sequence[int], built: Collection[str] | None = None) -> ReasonCatalogue:
        """This catalogue with every `{w}` entry written out for each of `windows` that its
        family does not name itself, in its place (named entries keep their order and win);
        with `built` (the feature names the features config builds), only for those."""
        families: dict[str, dict[str, Template]] = {}
        for family, entries in self.families.items():
            out: dict[str, Template] = {}
            for feature, template in entries.items():
                if WINDOW_KEY not in feature:
                    out[feature] = template
                    continue
                for window in sorted(windows):
                    name = feature.replace(WINDOW_KEY, str(window))
                    if name not in entries and name not in out and (built is None or name in built):
                        out[name] = template.for_window(window)
            families[family] = out
        return self.model_copy(update={"families": families})

    @model_validator(mode="after")
    def _merge_once(self) -> ReasonCatalogue:
        seen: dict[str, str] = {}
        for target, sources in self.merge.items():
            for source in sources:
                if source in seen:
                    raise ValueError(f"merge: family '{source}' is merged into both '{seen[source]}' and '{target}'")
                seen[source] = target
        return self

    def is_protected(self, name: str) -> bool:
        return name.lower() in {p.lower() for p in self.protected}

    def effect(self, model: str, direction: Literal["up", "down"]) -> str:
        score = self.scores.get(model, self.default_score)
        return (self.effect_up if direction == "up" else self.effect_down).format(score=score)


def merged_families(families: Mapping[str, str], features: Sequence[str],
                    catalogues: Mapping[str, ReasonCatalogue]) -> dict[str, str]:
    """feature -> reason family: the feature catalogue's family, or the family the catalogues'
    `merge` folds it into (strongly correlated families such as deposit, investment and total
    asset trends read as one reason). Every language must merge the same way."""
    merges = {lang: cat.merge for lang, cat in catalogues.items()}
    distinct = {repr(sorted((k, sorted(v)) for k, v in m.items())) for m in merges.values()}
    if len(distinct) > 1:
        raise ConfigError("reason catalogues disagree on `merge`: " +
                          "; ".join(f"{lang}: {dict(m)}" for lang, m in merges.items()))
    into = {source: target for m in list(merges.values())[:1] for target, sources in m.items() for source in sources}
    out = {}
    for feature in features:
        family = families.get(feature, feature)
        out[feature] = into.get(family, family)
    return out


def check_catalogue_coverage(features: Sequence[str], families: Mapping[str, str],
                             catalogues: Mapping[str, ReasonCatalogue]) -> None:
    """Raise `ConfigError` unless every family of `features` can be phrased in every language.

    `families` maps a feature to its family (a feature not in it is its own family). A family
    is covered when the catalogue has an entry with a template for at least one of the family's
    features. Protected features need no entry (they never appear in a reason), but a family
    that groups a protected feature with others is refused. Call this before training.
    """
    if not catalogues:
        raise ConfigError("no reason catalogue given; expected configs/reasons/en.yaml and zh.yaml")
    problems: list[str] = []
    families = merged_families(families, features, catalogues)
    members: dict[str, list[str]] = {}
    for feature in features:
        members.setdefault(families.get(feature, feature), []).append(feature)
    for lang, catalogue in catalogues.items():
        missing: list[str] = []
        for family, names in members.items():
            hidden = [n for n in names if catalogue.is_protected(n)]
            if hidden or catalogue.is_protected(family):
                if len(hidden) != len(names) or not hidden:
                    problems.append(f"family '{family}' groups protected or personal data "
                                    f"({', '.join(hidden or [family])}) with other features")
                continue
            entry = catalogue.families.get(family)
            if entry is None or not set(entry) & set(names):
                missing.append(f"{family} ({', '.join(names[:3])}{' ...' if len(names) > 3 else ''})")
        if missing:
            problems.append(f"{lang}: no entry for {len(missing)} famil{'y' if len(missing) == 1 else 'ies'}: "
                            + "; ".join(missing))
    if problems:
        raise ConfigError("reason catalogues do not cover the model's features: " + " | ".join(dict.fromkeys(problems)))


_FLAT_WORDS = {
    "en": {"text": "{description}: {{value}} ({{effect}})", "missing": "{description}: not given ({{effect}})",
           "score": "the score", "up": "raises {score}", "down": "lowers {score}", "unknown": "unknown",
           "scores": {"churn": "churn likelihood", "default": "default risk", "growth": "growth potential"}},
    "zh": {"text": "{description}：{{value}}（{{effect}}）", "missing": "{description}：未提供（{{effect}}）",
           "score": "评分", "up": "推高{score}", "down": "降低{score}", "unknown": "未知",
           "scores": {"churn": "流失可能性", "default": "违约风险", "growth": "增长潜力"}},
}


def flat_catalogues(X: pd.DataFrame, descriptions: Mapping[str, str], *, model: str, score: Mapping[str, str] | None = None,
                    protected: Sequence[str] = (), descriptions_zh: Mapping[str, str] | None = None,
                    ) -> dict[str, ReasonCatalogue]:
    """Generic catalogues for a flat table: one family per column of `X`, phrased from the
    dataset YAML's `descriptions` ("Age: 62 (raises churn likelihood)"). Chinese texts use
    `descriptions_zh` where given, else the English description. Protected columns get no entry.
    """
    hidden = {p.lower() for p in (*DEFAULT_PROTECTED, *protected)}
    out: dict[str, ReasonCatalogue] = {}
    for lang in LANGUAGES:
        words = _FLAT_WORDS[lang]
        own = descriptions_zh if lang == "zh" and descriptions_zh else {}
        families: dict[str, dict[str, Template]] = {}
        for column in X.columns:
            if column.lower() in hidden:
                continue
            description = own.get(column) or descriptions.get(column) or column
            description = description[:1].upper() + description[1:] if lang == "en" else description
            numeric = pd.api.types.is_numeric_dtype(X[column]) or pd.api.types.is_bool_dtype(X[column])
            families[column] = {column: Template(
                format="number" if numeric else "category",
                text=words["text"].format(description=description.replace("{", "(").replace("}", ")")),
                missing=words["missing"].format(description=description.replace("{", "(").replace("}", ")")))}
        scores = dict(words["scores"])
        if score and lang in score:
            scores[model] = score[lang]
        out[lang] = ReasonCatalogue(language=lang, scores=scores, default_score=words["score"],
                                    effect_up=words["up"], effect_down=words["down"],
                                    missing_value=words["unknown"],
                                    protected=tuple(sorted(hidden)), families=families)
    return out
