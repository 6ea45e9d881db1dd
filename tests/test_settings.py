from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from service.settings import Settings


def test_defaults_are_offline_and_extractive(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    assert settings.llm_model == "extractive" and settings.uses_extractive
    assert settings.chroma_url is None and settings.chroma_path == tmp_path / "chroma"
    assert settings.max_question_chars == 2000
    assert settings.chunk_max_tokens <= 254


def test_environment_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITEQA_LLM_MODEL", "openai/gpt-4o-mini")
    monkeypatch.setenv("CITEQA_LLM_API_KEY", "sk-test")
    monkeypatch.setenv("CITEQA_CHROMA_URL", "http://127.0.0.1:8001/")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.llm_model == "openai/gpt-4o-mini" and not settings.uses_extractive
    assert settings.chroma_url == "http://127.0.0.1:8001"
    assert "sk-test" not in repr(settings)


def test_dotenv_file(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("CITEQA_TOP_K=7\n")
    assert Settings(_env_file=env).top_k == 7  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"chunk_max_tokens": 300}, "chunk_max_tokens"),
        ({"chroma_url": "ftp://x"}, "chroma_url"),
        ({"top_k": 10, "max_k": 5}, "top_k"),
        ({"retrieval_mode": "magic"}, "retrieval_mode"),
        ({"collection": "a b"}, "collection"),
        ({"prompts_dir": "/nonexistent"}, "prompts_dir"),
    ],
)
def test_invalid_settings_fail_with_the_field_named(overrides: dict, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        Settings(_env_file=None, **overrides)  # type: ignore[call-arg]
    assert field in str(info.value)
