"""Alimtalk templates: their review states, their ``#{variable}``s, and the rules a send must
pass before NHN is called (only approved templates, every variable filled, no unknown one)."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

VARIABLE = re.compile(r"#\{([^{}]+)\}")


class TemplateState(enum.StrEnum):
    """Where a template stands in Kakao's review; only ``APPROVED`` sends."""

    REQUESTED = "requested"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    #: Gone from NHN's list (deleted there, or the channel was unlinked and linked again).
    DELETED = "deleted"


#: NHN's template status codes (``status`` in the template list).
NHN_STATUS = {
    "TSC01": TemplateState.REQUESTED,
    "TSC02": TemplateState.IN_REVIEW,
    "TSC03": TemplateState.APPROVED,
    "TSC04": TemplateState.REJECTED,
}


class AlimtalkRefused(Exception):
    """The Alimtalk may not go out as it is; ``str()`` says why and what to do; ``code`` and
    ``details``, when set, let a client say it in its reader's language."""

    def __init__(self, message: str, *, code: str | None = None, details: Mapping[str, str] | None = None):
        super().__init__(message)
        self.code = code
        self.details = dict(details or {})


@dataclass(frozen=True, slots=True)
class Template:
    code: str
    name: str
    content: str
    state: TemplateState
    nhn_status: str = ""

    @property
    def variables(self) -> list[str]:
        """The template's variables in order of first appearance, each once."""
        return list(dict.fromkeys(VARIABLE.findall(self.content)))

    def render(self, parameters: Mapping[str, str]) -> str:
        """The text the customer reads; refused unless every variable is given and no other."""
        self.check_sendable()
        wanted = self.variables
        missing = [v for v in wanted if not parameters.get(v, "").strip()]
        if missing:
            raise AlimtalkRefused(
                f"template {self.code} needs a value for {_names(missing)}: every variable must be filled",
                code="kakao_alimtalk_variable_missing",
                details={"variables": _names(missing)},
            )
        unknown = sorted(set(parameters) - set(wanted))
        if unknown:
            raise AlimtalkRefused(
                f"template {self.code} has no variable {_names(unknown)}; its variables are "
                f"{_names(wanted) if wanted else 'none'}"
            )
        return VARIABLE.sub(lambda m: parameters[m.group(1)], self.content)

    def check_sendable(self) -> None:
        if self.state is not TemplateState.APPROVED:
            raise AlimtalkRefused(
                f"template {self.code} ({self.name}) is {self.state.value.replace('_', ' ')}: "
                "only templates Kakao approved can be sent"
            )

    def parameters_of(self, text: str) -> dict[str, str] | None:
        """The variables' values if ``text`` is this template filled in, else None."""
        pattern, names = _pattern(self.content)
        found = pattern.fullmatch(text)
        if found is None:
            return None
        return {name: found.group(f"v{i}") for i, name in enumerate(names)}


def _pattern(content: str) -> tuple[re.Pattern[str], list[str]]:
    parts: list[str] = []
    names: list[str] = []
    at = 0
    for found in VARIABLE.finditer(content):
        parts.append(re.escape(content[at : found.start()]))
        name = found.group(1)
        if name in names:  # the same variable twice holds the same value
            parts.append(f"(?P=v{names.index(name)})")
        else:
            parts.append(f"(?P<v{len(names)}>.+?)")
            names.append(name)
        at = found.end()
    parts.append(re.escape(content[at:]))
    return re.compile("".join(parts), re.DOTALL), names


def _names(names: Iterable[str]) -> str:
    return ", ".join(f"#{{{n}}}" for n in names)


def resolve(templates: Iterable[Template], text: str) -> tuple[Template, dict[str, str]]:
    """The template ``text`` fills in, and its variables' values.

    A message on an Alimtalk chat is the template as the customer will read it; the template
    is the one whose content it fills in. Refused when a variable was left as ``#{name}``,
    when it fills in no template, or only templates that are not approved."""
    left = list(dict.fromkeys(VARIABLE.findall(text)))
    if left:
        raise AlimtalkRefused(f"fill in {_names(left)} before sending: variables may not be left empty")
    matches = [(t, p) for t in templates if (p := t.parameters_of(text)) is not None]
    approved = [(t, p) for t, p in matches if t.state is TemplateState.APPROVED]
    if approved:
        # Several approved templates can read the same (a variable standing for a literal
        # part): the one with the most literal text is the one meant.
        return max(approved, key=lambda tp: len(VARIABLE.sub("", tp[0].content)))
    if matches:
        matches[0][0].check_sendable()
    raise AlimtalkRefused(
        "the text fills in no approved Alimtalk template: an Alimtalk must be a Kakao-approved "
        "template with its #{variables} filled in (GET /api/v1/kakao_alimtalk/templates lists them)"
    )
