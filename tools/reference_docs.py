"""Generated reference pages: `docs/configuration.md` and `docs/cli.md`.

Both are generated from the code so that they cannot drift: the configuration reference from
the frozen pydantic models that parse `configs/` (every key, nested models expanded with dotted
keys), the CLI reference from the typer app. `python tools/reference_docs.py` (or `make docs`)
rewrites both files atomically; the tests compare the committed pages with fresh output.

Descriptions come from, in order: `Field(description=...)`, an attribute docstring (a string
right after the field), a `# comment` on the field's line, comment lines just above it.
"""

from __future__ import annotations

import ast
import datetime as dt
import enum
import fnmatch
import importlib
import inspect
import io
import json
import re
import textwrap
import tokenize
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from tierwise.features import write_text_atomic

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS_DIR = REPO_ROOT / "docs"
CONFIG_DOC = "configuration.md"
CLI_DOC = "cli.md"
CONTRACT_BEGIN = "<!-- contract:start -->"
CONTRACT_END = "<!-- contract:end -->"


@dataclass(frozen=True)
class ConfigFile:
    """One kind of YAML file in `configs/` and the model class that parses it."""

    pattern: str  # glob relative to configs/, e.g. "models/*.yaml"
    model: str  # "package.module:ClassName", imported when the page is generated
    what: str  # one line: what the file controls and who reads it
    comments_from: tuple[str, ...] = ()  # globs whose YAML comments describe keys (default: pattern)
    use_comments: bool = True  # False when the shipped files' comments are about one instance only
    example_page: str | None = None  # a docs/ page whose first ```yaml block's comments describe keys


CONFIG_FILES: tuple[ConfigFile, ...] = (
    ConfigFile("data.yaml", "tierwise.synthetic:DataConfig",
               "The built-in synthetic bank: size, population, base rates, label definitions, oracle, "
               "`--dirty` defects. Read by `tierwise generate` and `tierwise demo`."),
    ConfigFile("features.yaml", "tierwise.features:FeatureConfig",
               "Point-in-time snapshot features, labels, the out-of-time split, protected attributes "
               "and the leakage screen. Read by `tierwise features`, `trainset`, `train --task`, `score`."),
    ConfigFile("models/*.yaml", "tierwise.models:TaskConfig",
               "One file per model task (`churn`, `default`, `growth`; `flat` is the template for "
               "flat tables): candidates, LightGBM parameters, tuning, calibration, grades, scorecard. "
               "Read by `tierwise train`.",
               comments_from=("models/churn.yaml", "models/default.yaml", "models/growth.yaml")),
    ConfigFile("policy.yaml", "tierwise.models:PolicyConfig",
               "The tier policy: expected value, tier thresholds, asset floors, risk gate, retention, "
               "cost review, channels, RM capacity, tier-reason sentences. Read by `tierwise recommend`."),
    ConfigFile("datasets/*.yaml", "tierwise.features:DatasetConfig",
               "A flat table (one row per client, a target column): see [flat-tables.md](flat-tables.md). "
               "Read by `tierwise train --dataset FILE`.", use_comments=False, example_page="flat-tables.md"),
    ConfigFile("monitor.yaml", "tierwise.reports:MonitorConfig",
               "Portfolio monitor (PSI, concentration limits, matured labels), fairness thresholds and "
               "the relationship-manager report. Read by `tierwise monitor` and `tierwise report`."),
    ConfigFile("reasons/*.yaml", "tierwise.models._reason_catalogue:ReasonCatalogue",
               "Reason-code texts, one file per language (`en`, `zh`): one template per feature family. "
               "Read when training (coverage check) and when explaining."),
    ConfigFile("drivers.yaml", "tierwise.models._truthfulness:DriverMap",
               "Synthetic bank only: which reason families reveal each true churn/default driver "
               "(the truthfulness check)."),
    ConfigFile("products.yaml", "tierwise.models:ProductFamilyConfig",
               "The full-product menu: product families, the value of one adoption, credit and "
               "risk-reducing flags, offers per client, and the one model template of every product "
               "propensity task (`adopt_<product>`). Read by `tierwise train --task products` and by "
               "`tierwise recommend`, which bundles the menu with the product models (see "
               "[products.md](products.md))."),
    ConfigFile("next_tier.yaml", "tierwise.models:NextTierConfig",
               "What would move a client up a tier: the levers a client or relationship manager can "
               "change (monthly columns raised at the snapshot month), their plausible range, and the "
               "fixed features. Read by `tierwise explain --next-tier`, the served `next_tier` field "
               "and the RM page."),
)


@dataclass(frozen=True)
class KeyDoc:
    """One documented configuration key."""

    key: str  # dotted, e.g. "tuning.budget_minutes"; "<key>" for a mapping key, "[]" for a list item
    type: str
    default: str
    description: str


# -- configuration reference --------------------------------------------------------------


def import_model(spec: str) -> type[BaseModel]:
    """`"package.module:ClassName"` -> the class."""
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def config_keys(model: type[BaseModel], comments: dict[str, str] | None = None) -> list[KeyDoc]:
    """Every key of `model`, nested models expanded with dotted keys, in declaration order.

    `comments` (dotted key -> text, e.g. from `yaml_comments`) describe keys the model's source
    leaves undescribed.
    """
    keys = list(_keys(model, "", None))
    if comments:
        keys = [k if k.description or k.key not in comments else
                KeyDoc(k.key, k.type, k.default, comments[k.key]) for k in keys]
    return keys


_YAML_KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.-]+):(?P<rest>.*)$")


def _trailing_comment(rest: str) -> str:
    """The `# comment` at the end of a YAML value, ignoring `#` inside quotes."""
    quote = None
    for i, ch in enumerate(rest):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or rest[i - 1] in " \t"):
            return rest[i + 1:].strip()
    return ""


def yaml_comments(path: Path | str) -> dict[str, str]:
    """Dotted key -> the comment on its line (or comment lines right above it) in a YAML file.

    A line-based reading of block-style YAML, enough for the shipped `configs/`: list items
    and flow mappings are not descended into; the file's opening comment block is not taken
    as the first key's description.
    """
    found: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    above: list[str] = []
    seen_key = False
    text = path.read_text(encoding="utf-8") if isinstance(path, Path) else path
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped.lstrip("#").strip())
            continue
        match = _YAML_KEY.match(line)
        if not stripped or not match:
            above = []
            continue
        indent = len(match["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        key = ".".join([*(k for _, k in stack), match["key"]])
        stack.append((indent, match["key"]))
        text = " ".join(t for t in (*(above if seen_key else []), _trailing_comment(match["rest"])) if t)
        if text and key not in found:
            found[key] = text
        above = []
        seen_key = True
    return found


def example_comments(page: Path) -> dict[str, str]:
    """`yaml_comments` of the first ```yaml block of a Markdown page ({} without one)."""
    if not page.is_file():
        return {}
    match = re.search(r"```yaml\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
    return yaml_comments(match.group(1)) if match else {}


def pattern_comments(config_dir: Path, *patterns: str) -> dict[str, str]:
    """`yaml_comments` merged over the files matching `patterns` (in order, each sorted; the
    first comment found for a key wins)."""
    merged: dict[str, str] = {}
    for path in (p for pattern in patterns for p in sorted(config_dir.glob(pattern))):
        for key, text in yaml_comments(path).items():
            merged.setdefault(key, text)
    return merged


def _keys(model: type[BaseModel], prefix: str, defaults: BaseModel | None) -> Iterator[KeyDoc]:
    notes = field_notes(model)
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        has_default, default = _default(info, defaults, name)
        nested = _model_in(info.annotation)
        description = info.description or notes.get(name, "")
        if nested is not None and _is_plain_model(info.annotation):
            doc = description or _class_doc(nested)
            yield KeyDoc(key, f"section ({nested.__name__})", "" if has_default else "required", doc)
            yield from _keys(nested, key + ".", default if isinstance(default, BaseModel) else None)
            continue
        yield KeyDoc(key, type_name(info.annotation) + _constraints(info), _show(default) if has_default else "required",
                     description or (_class_doc(nested) if nested is not None else ""))
        if nested is not None:
            yield from _keys(nested, key + _container_suffix(info.annotation), None)


_BOUNDS = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"), ("min_length", "min length"),
           ("max_length", "max length"), ("pattern", "matches"))


def _constraints(info: FieldInfo) -> str:
    """` (>= 1, <= 600)` from the field's validation metadata, or ``."""
    parts = []
    for item in info.metadata:
        for attr, label in _BOUNDS:
            value = getattr(item, attr, None)
            if value is not None:
                parts.append(f"{label} {value}")
    return f" ({', '.join(parts)})" if parts else ""


def _default(info: FieldInfo, parent_default: BaseModel | None, name: str) -> tuple[bool, Any]:
    """(has a default, the default): the parent's default instance wins over the field's own."""
    if parent_default is not None:
        return True, getattr(parent_default, name)
    if info.is_required():
        return False, None
    return True, info.get_default(call_default_factory=True)


def _strip_optional(tp: Any) -> Any:
    args = typing.get_args(tp)
    if _is_union(tp) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return tp


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _is_plain_model(tp: Any) -> bool:
    tp = _strip_optional(tp)
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _model_in(tp: Any) -> type[BaseModel] | None:
    """The pydantic model inside `tp` (itself, Optional, list/tuple/dict items), if any."""
    tp = _strip_optional(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (list, tuple, set, frozenset) and args:
        return _model_in(args[0])
    if origin is dict and len(args) == 2:
        return _model_in(args[1])
    return None


def _container_suffix(tp: Any) -> str:
    """How a key path steps into a container of models: `[].` for a list, `.<key>.` for a dict."""
    tp = _strip_optional(tp)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is dict:
        key_tp = args[0]
        if typing.get_origin(key_tp) is typing.Literal:
            label = "|".join(str(a) for a in typing.get_args(key_tp))
        else:
            label = "key"
        return f".<{label}>" + _container_suffix(args[1]).rstrip(".") + "."
    if origin in (list, tuple, set, frozenset):
        return "[]" + _container_suffix(args[0]).rstrip(".") + "."
    return ""


def type_name(tp: Any) -> str:
    """A short readable name for a type annotation: `int | None`, `list[str]`, `"auto" | "platt"`."""
    if tp is type(None) or tp is None:
        return "null"
    if tp is Any:
        return "any"
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Literal:
        return " | ".join(json.dumps(a, ensure_ascii=False) for a in args)
    if _is_union(tp):
        return " | ".join(type_name(a) for a in args)
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return f"list[{type_name(args[0])}]"
        if origin is tuple:
            return f"[{', '.join(type_name(a) for a in args)}]"
        return f"{name}[{', '.join(type_name(a) for a in args)}]"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return " | ".join(json.dumps(m.value) for m in tp)
    if tp is dt.date:
        return "date"
    return getattr(tp, "__name__", str(tp))


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return _plain(value.model_dump())
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _show(value: Any) -> str:
    """A default as it would be written in YAML (JSON flow style), `null` for None."""
    return json.dumps(_plain(value), ensure_ascii=False)


def _class_doc(model: type[BaseModel]) -> str:
    doc = model.__dict__.get("__doc__")
    return " ".join(inspect.cleandoc(doc).split()) if doc else ""


@cache
def field_notes(model: type[BaseModel]) -> dict[str, str]:
    """Field name -> its attribute docstring or `#` comment in the class source (if any)."""
    try:
        source = textwrap.dedent(inspect.getsource(model))
    except (OSError, TypeError):
        return {}
    lines = source.splitlines()
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
    cls = ast.parse(source).body[0]
    notes: dict[str, str] = {}
    body = getattr(cls, "body", [])
    for i, stmt in enumerate(body):
        if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
            continue
        name = stmt.target.id
        after = body[i + 1] if i + 1 < len(body) else None
        if (isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)):
            notes[name] = " ".join(inspect.cleandoc(after.value.value).split())
            continue
        trailing = [comments[n] for n in range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1) if n in comments]
        above: list[str] = []
        n = stmt.lineno - 1
        while n >= 1 and lines[n - 1].strip().startswith("#"):
            above.insert(0, comments.get(n, lines[n - 1].strip().lstrip("#").strip()))
            n -= 1
        text = " ".join(t for t in (*above, *trailing) if t and not t.startswith("noqa"))
        if text:
            notes[name] = text
    return notes


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _keys_table(keys: list[KeyDoc]) -> list[str]:
    out = ["| key | type | default | description |", "|---|---|---|---|"]
    for k in keys:
        default = f"`{_cell(k.default)}`" if k.default and k.default != "required" else (k.default or "")
        out.append(f"| `{_cell(k.key)}` | `{_cell(k.type)}` | {default} | {_cell(k.description)} |")
    return out


CONFIG_DIR = REPO_ROOT / "configs"


def configuration_markdown(config_dir: Path = CONFIG_DIR, docs_dir: Path = DOCS_DIR) -> str:
    """The text of `docs/configuration.md`; undescribed keys take the comments of the shipped
    YAML files in `config_dir` (or of an example in a page of `docs_dir`)."""
    out = [
        "# Configuration reference",
        "",
        "<!-- Generated by `python tools/reference_docs.py` (`make docs`) from the pydantic models; do not edit. -->",
        "",
        "Every file in `configs/` is parsed into a frozen pydantic model that forbids unknown keys:",
        "a misspelled key fails with the file, the key and the allowed keys on one line. The CLI",
        "reads the folder given by `--config-dir`, else `$TIERWISE_CONFIG_DIR`, else `./configs`,",
        "else the `configs/` shipped with the package. Keys are dotted for nested sections;",
        "`<key>` stands for a mapping key you choose, `[]` for the items of a list. A key without",
        "a default is required. Defaults are shown in JSON flow style, which is valid YAML.",
        "Descriptions come from the models' source and, where that is silent, from the comments",
        "in the shipped YAML files (for dataset files: the example in flat-tables.md).",
        "",
        "| file | model | what it controls |",
        "|---|---|---|",
    ]
    for entry in CONFIG_FILES:
        module, _, name = entry.model.partition(":")
        out.append(f"| [`configs/{entry.pattern}`](#{_anchor(entry.pattern)}) | `{name}` | {_cell(entry.what)} |")
    for entry in CONFIG_FILES:
        model = import_model(entry.model)
        out += ["", f"## configs/{entry.pattern}", "", entry.what, "",
                f"Model: `{entry.model.replace(':', '.')}`." + (f" {_class_doc(model)}" if _class_doc(model) else ""),
                ""]
        comments = pattern_comments(config_dir, *(entry.comments_from or (entry.pattern,))) if entry.use_comments else {}
        if entry.example_page:
            comments = {**example_comments(docs_dir / entry.example_page), **comments}
        out += _keys_table(config_keys(model, comments))
    return "\n".join(out) + "\n"


def _anchor(pattern: str) -> str:
    """GitHub's heading anchor for `## configs/<pattern>`."""
    text = f"configs/{pattern}".lower()
    return "".join(c for c in text if c.isalnum() or c in "-_ ").replace(" ", "-")


def documented_keys(page: str) -> dict[str, set[str]]:
    """`configs/<pattern>` section -> the keys listed in its table, read back from a page."""
    found: dict[str, set[str]] = {}
    section = None
    for line in page.splitlines():
        if line.startswith("## configs/"):
            section = line[len("## configs/"):].strip()
            found[section] = set()
        elif section is not None and line.startswith("| `"):
            found[section].add(line[3:line.index("`", 3)].replace("\\|", "|"))
    return found


def undocumented_keys(page: str) -> list[str]:
    """`pattern: key` for every key of a registered model that `page` does not list."""
    listed = documented_keys(page)
    return [f"{e.pattern}: {k.key}" for e in CONFIG_FILES for k in config_keys(import_model(e.model))
            if k.key not in listed.get(e.pattern, set())]


def unregistered_config_files(config_dir: Path) -> list[str]:
    """YAML files under `config_dir` that no `CONFIG_FILES` pattern covers (relative paths)."""
    found = sorted(p.relative_to(config_dir).as_posix() for p in config_dir.rglob("*.y*ml"))
    return [f for f in found if not any(fnmatch.fnmatch(f, e.pattern) and f.count("/") == e.pattern.count("/")
                                        for e in CONFIG_FILES)]


# -- raw data contract --------------------------------------------------------------------


def contract_markdown() -> str:
    """The raw-table contract (`features._contract`) as Markdown tables, one per table."""
    import tierwise.features as features
    out: list[str] = []
    for table, columns in (("clients", features.CLIENT_COLUMNS), ("monthly", features.MONTHLY_COLUMNS)):
        out += [f"**`{table}`**", "", "| column | kind | nulls allowed | description |", "|---|---|---|---|"]
        for col in columns:
            out.append(f"| `{col.name}` | {col.kind} | {'yes' if col.nullable else 'no'} | {_cell(col.description)} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def with_contract(page: str) -> str:
    """`page` with the text between the contract markers replaced by `contract_markdown()`."""
    head, sep, rest = page.partition(CONTRACT_BEGIN)
    if not sep:
        return page
    _, sep2, tail = rest.partition(CONTRACT_END)
    if not sep2:
        return page
    return f"{head}{CONTRACT_BEGIN}\n{contract_markdown()}{CONTRACT_END}{tail}"


# -- CLI reference ------------------------------------------------------------------------


def cli_commands(group: Any = None, prefix: str = "tierwise") -> list[tuple[str, Any]]:
    """(full command path, command) for every command and sub-command, depth first, sorted.

    Commands are typer's click command objects (`typer.main.get_command(app)`).
    """
    if group is None:
        group = root_command()
    found: list[tuple[str, Any]] = []
    for name in sorted(getattr(group, "commands", {}) or {}):
        cmd = group.commands[name]
        if cmd.hidden:
            continue
        path = f"{prefix} {name}"
        found.append((path, cmd))
        found += cli_commands(cmd, path)
    return found


def root_command() -> Any:
    """The click command behind the typer app (all command modules registered)."""
    import typer.main

    from tierwise.cli import app

    return typer.main.get_command(app)


def _context(cmd: Any, path: str) -> Any:
    return cmd.context_class(cmd, info_name=path)


def _param_row(param: Any, ctx: Any) -> str | None:
    if getattr(param, "hidden", False) or param.name == "help":
        return None
    if param.param_type_name == "option":
        names = ", ".join(f"`{o}`" for o in (*param.opts, *param.secondary_opts))
        if param.count:
            kind = "count"
        elif param.is_flag:
            kind = "flag"
        else:
            kind = _param_type(param, ctx)
    else:
        names = f"`{str(param.name).upper()}` (argument)"
        kind = _param_type(param, ctx)
    default = _param_default(param)
    required = "yes" if param.required else ""
    help_text = " ".join((getattr(param, "help", None) or "").split())
    return f"| {names} | {_cell(kind)} | {required} | {_cell(default)} | {_cell(help_text)} |"


def _param_type(param: Any, ctx: Any) -> str:
    annotation = _strip_optional(getattr(getattr(param, "type_descriptor", None), "annotation", None))
    if typing.get_origin(annotation) is typing.Literal:
        return " | ".join(str(a) for a in typing.get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " | ".join(str(m.value) for m in annotation)
    kind = param.display_type(ctx).strip("<>").replace(" range", "")
    bounds = []
    if getattr(param, "min", None) is not None:
        bounds.append(f">= {param.min}")
    if getattr(param, "max", None) is not None:
        bounds.append(f"<= {param.max}")
    return f"{kind} ({', '.join(bounds)})" if bounds else kind


def _param_default(param: Any) -> str:
    if getattr(param, "show_default", None) is False:
        return ""
    default = param.default
    if default is None or param.required or callable(default):
        return ""
    if getattr(param, "is_flag", False) and not param.secondary_opts and default is False:
        return ""
    if isinstance(default, list | tuple):
        return f"`{' '.join(str(d) for d in default)}`" if default else ""
    if isinstance(default, enum.Enum):
        default = default.value
    return f"`{default}`"


def _help_text(cmd: Any) -> str:
    return inspect.cleandoc(cmd.help or "").replace("\b\n", "")


def cli_markdown() -> str:
    """The text of `docs/cli.md`."""
    root = root_command()
    out = [
        "# CLI reference",
        "",
        "<!-- Generated by `python tools/reference_docs.py` (`make docs`) from the typer app; do not edit. -->",
        "",
        "One command, `tierwise`, with a verb per job. A user mistake (a wrong path, a bad flag",
        "value, a broken config) ends in one red line on stderr and a non-zero exit. Every command",
        "has `--help`. Global options go before the verb: `tierwise -v train --task churn`.",
        "`--config-dir` names the folder of YAML files described in [configuration.md](configuration.md).",
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    commands = cli_commands(root)
    for path, cmd in commands:
        first = (_help_text(cmd).splitlines() or [""])[0]
        out.append(f"| [`{path}`](#{path.replace(' ', '-')}) | {_cell(first)} |")
    out += ["", "## tierwise", "", _help_text(root), "", "Global options:", ""]
    out += _params_table(root, "tierwise")
    for path, cmd in commands:
        usage = " ".join(cmd.collect_usage_pieces(_context(cmd, path)))
        out += ["", f"## {path}", "", _help_text(cmd), "", "```", f"{path} {usage}".rstrip(), "```", ""]
        out += _params_table(cmd, path)
    return "\n".join(out).rstrip() + "\n"


def _params_table(cmd: Any, path: str) -> list[str]:
    ctx = _context(cmd, path)
    rows = [r for r in (_param_row(p, ctx) for p in cmd.params) if r is not None]
    subs = [n for n in sorted(getattr(cmd, "commands", {}) or {}) if not cmd.commands[n].hidden]
    lines: list[str] = []
    if rows:
        lines += ["| option | type | required | default | help |", "|---|---|---|---|---|", *rows]
    elif not subs:
        lines.append("No options.")
    if subs and path != "tierwise":
        lines += ["", "Sub-commands: " + ", ".join(f"[`{s}`](#{path.replace(' ', '-')}-{s})" for s in subs) + "."]
    return lines


# -- writing ------------------------------------------------------------------------------


def generate(docs_dir: Path = DOCS_DIR) -> list[Path]:
    """Write the generated pages (and refresh the contract table of `data-model.md`)."""
    written = []
    for name, text in ((CONFIG_DOC, configuration_markdown()), (CLI_DOC, cli_markdown())):
        write_text_atomic(docs_dir / name, text)
        written.append(docs_dir / name)
    data_model = docs_dir / "data-model.md"
    if data_model.is_file():
        old = data_model.read_text(encoding="utf-8")
        new = with_contract(old)
        if new != old:
            write_text_atomic(data_model, new)
            written.append(data_model)
    return written


def main() -> None:
    import logging

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for path in generate():
        logging.getLogger(__name__).info("wrote %s", path)


if __name__ == "__main__":
    main()
