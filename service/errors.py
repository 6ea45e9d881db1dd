"""citeqa's one error tree. Every error a user can see is one of these; the web layer maps each class to one
HTTP status and one JSON body, the CLI to a message and an exit code.

    CiteqaError                 500  something we did not foresee (message kept generic)
    ├── InvalidInput            422  a request field is wrong (names the field)
    ├── Unauthorized            401  a key is required and none was sent (WWW-Authenticate: Bearer)
    ├── Forbidden               403  the key sent is not one of the configured keys
    ├── NotFound                404  no such document
    ├── UnsupportedFile         415  a file type no loader reads
    ├── PayloadTooLarge         413  an upload over the size limit
    ├── RateLimited             429  too many requests from one key or address (Retry-After: seconds)
    ├── StoreUnavailable        503  the Chroma store cannot be reached or used
    ├── LLMError                502  the LLM provider failed or answered nonsense
    │   └── LLMTimeout          502  the LLM provider did not answer in time (code llm_timeout)
    └── ConfigError             ---  settings or prompts are wrong; raised at start-up

The JSON body is always ``{"error": {"code": ..., "message": ..., "field": ...}}`` (``field`` only when one
field is to blame). Third-party messages are never echoed raw: each error carries its own plain message.
:meth:`CiteqaError.headers` gives the response headers an error needs (``WWW-Authenticate``, ``Retry-After``).
"""

from __future__ import annotations


class CiteqaError(Exception):
    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def to_body(self) -> dict[str, dict[str, str]]:
        body = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        return {"error": body}

    def headers(self) -> dict[str, str]:
        return {}


class InvalidInput(CiteqaError):
    status_code = 422
    code = "invalid_input"


class Unauthorized(CiteqaError):
    status_code = 401
    code = "unauthorized"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(CiteqaError):
    status_code = 403
    code = "forbidden"


class NotFound(CiteqaError):
    status_code = 404
    code = "not_found"


class UnsupportedFile(CiteqaError):
    status_code = 415
    code = "unsupported_file"


class PayloadTooLarge(CiteqaError):
    status_code = 413
    code = "payload_too_large"


class RateLimited(CiteqaError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message, field=field, code=code)
        self.retry_after = max(1, retry_after)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class StoreUnavailable(CiteqaError):
    status_code = 503
    code = "store_unavailable"


class LLMError(CiteqaError):
    status_code = 502
    code = "llm_error"


class LLMTimeout(LLMError):
    code = "llm_timeout"


class ConfigError(CiteqaError):
    code = "config_error"
