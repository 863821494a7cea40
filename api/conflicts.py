"""Someone saved meanwhile (a 412 on a page form, issue 13): the version saved meanwhile is
shown beside what you typed, your changes are re-applied on it, and nothing typed is lost.
One home for the resource form and the link forms (edit, level): each names its groups of
fields, how a group's value compares, and how it is said in words; saving again is the
person's decision, with the version they now see.

A form opened at version `base`, saved meanwhile as `theirs`, posted as `yours`: a group you
did not touch takes theirs, a group you changed keeps yours, and a group both changed
differently is marked (to look at before saving)."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Values = dict[str, Any]


@dataclass(frozen=True)
class Groups:
    """A form's groups of fields that people change together (a position is its longitude,
    latitude and precision)."""

    fields: Mapping[str, tuple[str, ...]]
    comparable: Callable[[Values, str], Any]

    def changed(self, before: Values, after: Values) -> list[str]:
        return [g for g in self.fields if self.comparable(before, g) != self.comparable(after, g)]

    def merge(self, base: Values, theirs: Values,
              yours: Values) -> tuple[Values, list[str], list[str]]:
        """Your changes re-applied on theirs: the merged form, the groups they changed, the
        groups both changed differently."""
        merged = dict(theirs)
        theirs_changed = self.changed(base, theirs)
        clashes = []
        for group, keys in self.fields.items():
            if self.comparable(yours, group) != self.comparable(base, group):
                for key in keys:
                    merged[key] = yours[key]
                if group in theirs_changed and \
                        self.comparable(yours, group) != self.comparable(theirs, group):
                    clashes.append(group)
        return merged, theirs_changed, clashes


@dataclass(frozen=True)
class Saved:
    """Who saved meanwhile, when, and at which version (the form had opened `opened_at`)."""

    actor: str
    at: str
    version: int
    opened_at: int | None


def resolve(groups: Groups, base: Values | None, theirs: Values, yours: Values,
            words: Callable[[Values, str], str], label: Callable[[str], str], title: str,
            saved: Saved) -> tuple[Values, dict[str, Any]]:
    """The form to show again and the conflict to show above it (templates/_form.html,
    `conflict_view`): a row per group they changed, theirs in words beside yours ("None" when
    you left it as it was). Without the version you opened (`base` None: the log does not hold
    it), every difference between theirs and yours is shown and marked."""
    if base is None:
        merged, changed, _ = groups.merge(theirs, theirs, yours)
        changed = groups.changed(theirs, yours)
        clashes, mine = changed, set(changed)
    else:
        merged, changed, clashes = groups.merge(base, theirs, yours)
        mine = set(groups.changed(base, yours))
    rows = [{"group": g, "label": label(g), "theirs": words(theirs, g),
             "yours": words(yours, g) if g in mine else None, "clash": g in clashes}
            for g in changed]
    return merged, {"title": title, "rows": rows, "actor": saved.actor, "at": saved.at,
                    "version": saved.version, "opened_at": saved.opened_at}
