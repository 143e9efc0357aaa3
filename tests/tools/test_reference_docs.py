"""The generated reference pages match the code: every config key, every YAML file, every command."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import reference_docs as docs
from pydantic import Field

from tierwise.config import load_config
from tierwise.features import FrozenConfig

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
CONFIGS = REPO / "configs"
REGENERATE = "run `make docs` (python tools/reference_docs.py) and commit docs/"


def _page(name: str) -> str:
    path = DOCS / name
    assert path.is_file(), f"docs/{name} is missing; {REGENERATE}"
    return path.read_text(encoding="utf-8")


# -- configuration reference --------------------------------------------------------------


def test_every_config_key_is_in_the_committed_reference():
    missing = docs.undocumented_keys(_page(docs.CONFIG_DOC))
    assert not missing, f"docs/configuration.md does not list {missing}; {REGENERATE}"


def test_committed_configuration_reference_is_current():
    assert _page(docs.CONFIG_DOC) == docs.configuration_markdown(), f"docs/configuration.md is stale; {REGENERATE}"


def test_every_yaml_file_in_configs_has_a_registered_model():
    unregistered = docs.unregistered_config_files(CONFIGS)
    assert not unregistered, f"no config model registered in reference_docs.CONFIG_FILES for {unregistered}"


@pytest.mark.parametrize("entry", docs.CONFIG_FILES, ids=lambda e: e.pattern)
def test_each_registered_pattern_has_files_that_parse_with_its_model(entry):
    files = sorted(CONFIGS.glob(entry.pattern))
    assert files, f"configs/{entry.pattern} matches no file"
    model = docs.import_model(entry.model)
    for path in files:
        assert isinstance(load_config(path, model), model)


def test_unregistered_yaml_file_is_reported(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "churn.yaml").write_text("task: churn\n")
    (tmp_path / "models" / "deep").mkdir()
    (tmp_path / "models" / "deep" / "x.yaml").write_text("a: 1\n")
    (tmp_path / "pricing.yml").write_text("a: 1\n")
    assert docs.unregistered_config_files(tmp_path) == ["models/deep/x.yaml", "pricing.yml"]


class _Inner(FrozenConfig):
    """Inner section."""

    size: int = Field(3, ge=1)  # how many
    label: str | None = None


class _Item(FrozenConfig):
    name: str
    weight: float = Field(1.0, description="relative weight")


class _Sample(FrozenConfig):
    """A sample config."""

    # the first line
    # the second line
    first: int = 1
    inner: _Inner = _Inner(size=5)
    items: list[_Item] = Field(default_factory=list)
    by_lang: dict[str, _Inner] = Field(default_factory=dict)
    required_text: str
    """What the text is for."""


def test_config_keys_expand_nested_models_with_dotted_keys_and_descriptions():
    keys = {k.key: k for k in docs.config_keys(_Sample)}
    assert list(keys) == ["first", "inner", "inner.size", "inner.label", "items", "items[].name", "items[].weight",
                          "by_lang", "by_lang.<key>.size", "by_lang.<key>.label", "required_text"]
    assert keys["first"].description == "the first line the second line"
    assert keys["inner"].description == "Inner section."
    assert keys["inner.size"].default == "5"  # the parent's default instance wins over the field default
    assert keys["inner.size"].type == "int (>= 1)"
    assert keys["inner.size"].description == "how many"
    assert keys["inner.label"].type == "str | null"
    assert keys["items[].name"].default == "required"
    assert keys["items[].weight"].description == "relative weight"
    assert keys["required_text"].default == "required"
    assert keys["required_text"].description == "What the text is for."


def test_yaml_comments_describe_keys_by_dotted_path(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text(
        "# file header, not a key's description\n"
        "first: 1\n"
        "section:          # the section\n"
        "  # above the key\n"
        "  size: 3         # how many\n"
        "  text: 'a # b'\n"
        "  items:\n"
        "    - name: x     # list items are not descended into\n"
        "after: 2\n",
        encoding="utf-8",
    )
    assert docs.yaml_comments(path) == {"section": "the section", "section.size": "above the key how many"}


def test_undescribed_keys_take_yaml_comments_and_model_text_wins():
    keys = {k.key: k for k in docs.config_keys(_Sample, {"inner.label": "from yaml", "first": "ignored"})}
    assert keys["inner.label"].description == "from yaml"
    assert keys["first"].description == "the first line the second line"


def test_a_key_added_to_a_model_is_reported_as_undocumented(monkeypatch):
    page = _page(docs.CONFIG_DOC)
    original = docs.import_model

    class Grown(original("tierwise.models:TaskConfig")):
        brand_new_key: int = 3

    monkeypatch.setattr(docs, "import_model", lambda spec: Grown if spec == "tierwise.models:TaskConfig" else original(spec))
    assert docs.undocumented_keys(page) == ["models/*.yaml: brand_new_key"]


# -- CLI reference ------------------------------------------------------------------------


def test_every_registered_command_is_in_the_committed_cli_reference():
    page = _page(docs.CLI_DOC)
    commands = docs.cli_commands()
    assert {"tierwise train", "tierwise predict", "tierwise score"} <= {path for path, _ in commands}
    missing = [path for path, _ in commands if f"\n## {path}\n" not in page]
    assert not missing, f"docs/cli.md lacks {missing}; {REGENERATE}"


def test_cli_reference_lists_every_option_of_every_command():
    page = docs.cli_markdown()
    for path, cmd in docs.cli_commands():
        section = page.split(f"\n## {path}\n", 1)[1].split("\n## ", 1)[0]
        for param in cmd.params:
            if param.name != "help" and not param.hidden and param.param_type_name == "option":
                assert f"`{param.opts[0]}`" in section, f"{path}: option {param.opts[0]} not documented"


def test_committed_cli_reference_is_current():
    assert _page(docs.CLI_DOC) == docs.cli_markdown(), f"docs/cli.md is stale; {REGENERATE}"


# -- hand-written pages ------------------------------------------------------------------


def test_dataset_yaml_examples_in_flat_tables_page_parse():
    import re

    import yaml

    from tierwise.features import DatasetConfig

    blocks = re.findall(r"```yaml\n(.*?)```", _page("flat-tables.md"), re.S)
    assert len(blocks) >= 2
    for block in blocks:
        DatasetConfig.model_validate(yaml.safe_load(block))


def test_relative_links_between_pages_resolve():
    import re

    broken = []
    for page in sorted(DOCS.glob("*.md")):
        for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if not (page.parent / target).is_file():
                broken.append(f"{page.name} -> {target}")
    assert not broken, f"broken links: {broken}"


# -- data contract and writing ------------------------------------------------------------


def test_contract_table_lists_every_raw_column_and_is_current_in_data_model_page():
    import tierwise.features as features
    table = docs.contract_markdown()
    for col in (*features.CLIENT_COLUMNS, *features.MONTHLY_COLUMNS):
        assert f"| `{col.name}` | {col.kind} |" in table
    page = _page("data-model.md")
    assert docs.with_contract(page) == page, f"docs/data-model.md contract table is stale; {REGENERATE}"


def test_with_contract_replaces_only_the_marked_block():
    page = f"intro\n{docs.CONTRACT_BEGIN}\nold table\n{docs.CONTRACT_END}\noutro\n"
    new = docs.with_contract(page)
    assert new.startswith("intro\n") and new.endswith(f"{docs.CONTRACT_END}\noutro\n")
    assert "old table" not in new and "| `client_id` |" in new
    assert docs.with_contract("no markers here\n") == "no markers here\n"


def test_generate_writes_both_pages_atomically(tmp_path):
    (tmp_path / "data-model.md").write_text(f"x\n{docs.CONTRACT_BEGIN}\n{docs.CONTRACT_END}\n", encoding="utf-8")
    written = docs.generate(tmp_path)
    assert sorted(p.name for p in written) == ["cli.md", "configuration.md", "data-model.md"]
    assert (tmp_path / "configuration.md").read_text(encoding="utf-8") == docs.configuration_markdown()
    assert "| `month` | month |" in (tmp_path / "data-model.md").read_text(encoding="utf-8")
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")], "temporary files left behind"
