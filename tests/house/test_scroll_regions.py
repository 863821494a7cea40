"""A wide table scrolls in its own box (`.table-scroll`, docs/conventions.md, Layout). A box that
scrolls must also scroll from the keyboard and be announced: each one is focusable
(`tabindex="0"`), a region (`role="region"`), named in the reader's language (an `aria-label`
written from the catalogue or from data, never a literal sentence). The workshop and gap tables
had it and the territory lists did not; this finds every box in the templates."""

import re
from pathlib import Path

from carto import ROOT

BOX = re.compile(r"<div\b[^>]*\bclass=\"[^\"]*\btable-scroll\b[^\"]*\"[^>]*>", re.S)


def _boxes() -> list[tuple[str, str]]:
    """(template, opening tag) of every scroll box, our templates only."""
    found = []
    for path in sorted(Path(ROOT, "templates").glob("**/*.html")):
        for tag in BOX.findall(path.read_text(encoding="utf-8")):
            found.append((str(path.relative_to(ROOT)), " ".join(tag.split())))
    return found


def test_the_templates_have_scroll_boxes() -> None:
    assert len(_boxes()) >= 10


def test_every_scroll_box_is_a_named_region_the_keyboard_can_scroll() -> None:
    wrong = []
    for name, tag in _boxes():
        label = re.search(r'\baria-label="([^"]*)"', tag)
        if ('tabindex="0"' not in tag or 'role="region"' not in tag or not label
                or "{{" not in label.group(1)):
            wrong.append(f"{name}: {tag}")
    assert not wrong, "scroll boxes that are no named focusable region:\n" + "\n".join(wrong)
