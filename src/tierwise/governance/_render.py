"""A governance card as Markdown and as one self-contained HTML page."""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup, escape

from tierwise.governance._cards import Card
from tierwise.reports import template_env


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(card: Card) -> str:
    env = template_env()
    env.filters["cell"] = _md_cell
    return env.get_template("governance_card.md.j2").render(card=card)


def render_html(card: Card) -> str:
    """One self-contained page: inline CSS, images as data: URIs, no scripts or fonts from elsewhere."""
    env = template_env()
    env.filters["inline_md"] = _inline_md
    return env.get_template("governance_card.html.j2").render(card=card)


def _inline_md(text: str) -> Any:
    """`code` and **bold** of the card's plain text as HTML (the text is escaped first)."""
    html = str(escape(text))
    html = re.sub(r"`([^`]+)`", r"<code>\1</code>", html)
    html = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", html)
    return Markup(html)
