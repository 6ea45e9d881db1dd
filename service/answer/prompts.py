"""Prompt templates: files in ``prompts/``, ``string.Template`` syntax, checked once when loaded.

A template that uses a variable the code does not supply, or lacks one it needs, is a :class:`ConfigError`
at start-up, never a surprise at request time.
"""

from __future__ import annotations

from pathlib import Path
from string import Template

from service.errors import ConfigError

REFUSAL = "The sources do not answer this question."

# template file -> the variables it must use (and may only use)
TEMPLATES: dict[str, set[str]] = {
    "answer_system.md": {"refusal"},
    "answer_user.md": {"passages", "question"},
    "passage.md": {"number", "title", "source", "text"},
    "condense.md": {"conversation", "question"},
}


class Prompt:
    def __init__(self, name: str, text: str, variables: set[str]) -> None:
        self.name = name
        self.template = Template(text)
        if not self.template.is_valid():
            raise ConfigError(f"prompt {name}: invalid $-placeholder syntax")
        used = set(self.template.get_identifiers())
        if used != variables:
            missing, unknown = variables - used, used - variables
            raise ConfigError(f"prompt {name}: missing variables {sorted(missing)}, unknown {sorted(unknown)}")
        self.variables = variables

    def render(self, **values: object) -> str:
        if set(values) != self.variables:
            raise ConfigError(f"prompt {self.name}: got {sorted(values)}, expects {sorted(self.variables)}")
        return self.template.substitute({key: str(value) for key, value in values.items()})


def load_prompts(folder: Path, names: dict[str, set[str]] | None = None) -> dict[str, Prompt]:
    prompts = {}
    for name, variables in (names or TEMPLATES).items():
        path = folder / name
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read prompt {path}: {exc.strerror}") from None
        prompts[name] = Prompt(name, text, variables)
    return prompts
