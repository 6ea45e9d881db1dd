"""The faster encoder: the same model exported to ONNX, its weights quantised to int8, run by onnxruntime.

The export is made here, from the local model folder (never downloaded): torch.onnx (TorchScript exporter) writes
the transformer's ``last_hidden_state``, and ``onnxruntime.quantization.quantize_dynamic`` quantises the weights
of its MatMuls per channel to int8 (activations are quantised on the fly). The word embeddings stay float32:
quantising them costs accuracy and buys no speed. The result is cached in ``cache_dir`` under a key derived from
the model's files and :data:`EXPORT_VERSION`, and rebuilt when missing. Only the first run imports torch.

At run time: the model's ``tokenizers`` tokenizer (truncated to the model's 256-piece window), onnxruntime on one
text at a time (see :meth:`OnnxInt8Embedder.embed`), mean pooling and L2 normalisation, as sentence-transformers
does for this model. onnxruntime's thread spinning is off, since torch may share the process and the 2 cores.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ingest.embedding import PACKAGED_MODEL, LocalEmbedder, TokenStates
from ingest.models import ModelError

log = logging.getLogger(__name__)

EXPORT_VERSION = "1"  # bump when the export recipe changes: every cached export is then rebuilt
MODEL_FILE = "model_int8.onnx"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def _model_config(path: Path) -> tuple[int, int]:
    """(max_seq_length, dimension) of a sentence-transformers folder that mean-pools; anything else is refused."""
    pooling_file = path / "1_Pooling" / "config.json"
    pooling = json.loads(pooling_file.read_text()) if pooling_file.is_file() else {"pooling_mode_mean_tokens": True}
    if not pooling.get("pooling_mode_mean_tokens") or any(
        pooling.get(key) for key in ("pooling_mode_cls_token", "pooling_mode_max_tokens")
    ):
        raise ModelError(f"the onnx-int8 encoder needs a mean-pooling model; {path} pools otherwise")
    st_config = path / "sentence_bert_config.json"
    max_len = int(json.loads(st_config.read_text()).get("max_seq_length", 256)) if st_config.is_file() else 256
    dimension = int(json.loads((path / "config.json").read_text()).get("hidden_size", 384))
    return max_len, dimension


def export_key(path: Path) -> str:
    """Changes when the model's files or the export recipe change."""
    digest = hashlib.sha256(f"v{EXPORT_VERSION}".encode())
    for name in ("config.json", "tokenizer.json", "sentence_bert_config.json", "1_Pooling/config.json"):
        file = path / name
        digest.update(name.encode() + (file.read_bytes() if file.is_file() else b""))
    for file in sorted(path.glob("*.safetensors")) + sorted(path.glob("pytorch_model*.bin")):
        stat = file.stat()
        digest.update(f"{file.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def export_int8(path: Path, target: Path) -> None:
    """Export the transformer at ``path`` to ONNX and quantise it to int8, writing ``target`` atomically."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    base = AutoModel.from_pretrained(str(path), attn_implementation="eager").eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.base = base

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.base(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        example = torch.ones((2, 8), dtype=torch.long)
        axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "last_hidden_state")}
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                LastHiddenState(), (example, torch.ones_like(example), torch.zeros_like(example)),
                str(work / "model.onnx"), dynamo=False, opset_version=17, input_names=list(INPUTS),
                output_names=["last_hidden_state"], dynamic_axes=axes,
            )
        root = logging.getLogger()  # quantize_dynamic logs an irrelevant hint on the root logger
        was_disabled, root.disabled = root.disabled, True
        try:
            quantize_dynamic(work / "model.onnx", work / MODEL_FILE, op_types_to_quantize=["MatMul"],
                             per_channel=True, weight_type=QuantType.QInt8)
        finally:
            root.disabled = was_disabled
        os.replace(work / MODEL_FILE, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


class OnnxInt8Embedder(LocalEmbedder):
    """all-MiniLM-L6-v2 (or a local mean-pooling sentence-transformers folder), int8, on onnxruntime."""

    def __init__(self, model: str = PACKAGED_MODEL, batch_size: int = 32, *, cache_dir: Path,
                 query_cache_size: int = 16384, threads: int | None = None) -> None:
        """``cache_dir``: where the export is kept (the settings' ``encoder_cache_path``; no default of its own,
        so there is one place that decides it)."""
        super().__init__(model, batch_size, query_cache_size)
        self.name = f"{model} (onnx-int8)"
        self.max_length, self._dimension = _model_config(self.path)
        self.cache_dir = Path(cache_dir)
        self.threads = threads or len(os.sched_getaffinity(0))
        self._session: Any = None
        self._input_tokenizer: Any = None

    @property
    def model_file(self) -> Path:
        return self.cache_dir / f"{self.path.name}-{export_key(self.path)}" / MODEL_FILE

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def session(self) -> Any:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._session = self._load()
        return self._session

    def _load(self) -> Any:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        target = self.model_file
        if not target.is_file():
            log.info("exporting %s to %s (once)", self.path, target)
            export_int8(self.path, target)
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        session = ort.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])
        tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        tokenizer.enable_truncation(self.max_length)
        tokenizer.no_padding()
        self._input_tokenizer = tokenizer
        self._inputs = {node.name for node in session.get_inputs()}
        return session

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One text per run: dynamic quantisation scales activations over the whole input tensor, so a text
        batched with others (and their padding) would get a vector that depends on its batch-mates. Alone, it
        always gets the same vector, and with no padding to compute this is also faster on a CPU."""
        out = np.empty((len(texts), self._dimension), dtype=np.float32)
        for row, (hidden, _) in enumerate(self._run(texts)):
            pooled = hidden.mean(axis=0)
            out[row] = pooled / max(float(np.linalg.norm(pooled)), 1e-12)
        return out

    def token_states(self, texts: Sequence[str]) -> list[TokenStates]:
        return [(hidden, list(encoding.offsets)) for hidden, encoding in self._run(texts)]

    def _run(self, texts: Sequence[str]) -> Iterator[tuple[np.ndarray, Any]]:
        """(last hidden state, tokenizers Encoding) of each text, one session run each."""
        if not texts:
            return
        session = self.session
        for encoding in self._input_tokenizer.encode_batch(list(texts)):
            ids = np.array([encoding.ids], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
            hidden = session.run(None, {name: value for name, value in feed.items() if name in self._inputs})[0]
            yield hidden[0], encoding
