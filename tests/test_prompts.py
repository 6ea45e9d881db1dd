from __future__ import annotations

from pathlib import Path

import pytest

from service.answer.prompts import TEMPLATES, load_prompts
from service.errors import ConfigError
from service.settings import PROJECT_ROOT


def test_shipped_prompts_load_and_render() -> None:
    prompts = load_prompts(PROJECT_ROOT / "prompts")
    text = prompts["answer_user.md"].render(passages="P", question="Q?")
    assert "Q?" in text and "P" in text


def test_unknown_or_missing_variable_is_an_error(tmp_path: Path) -> None:
    for name in TEMPLATES:
        (tmp_path / name).write_text((PROJECT_ROOT / "prompts" / name).read_text())
    (tmp_path / "answer_user.md").write_text("$passages $question $surprise")
    with pytest.raises(ConfigError, match="unknown \\['surprise'\\]"):
        load_prompts(tmp_path)
    (tmp_path / "answer_user.md").write_text("$passages only")
    with pytest.raises(ConfigError, match="missing variables \\['question'\\]"):
        load_prompts(tmp_path)
