"""The query pipeline: retrieval (dense + BM25), the judge of answers, the answerers (extractive, LLM), the
citation checker, follow-up condensing and the checked stream: one question's way from text to checked answer.

May import only the shared modules (:mod:`service.settings`, :mod:`service.errors`, :mod:`service.store`) and
:mod:`ingest`; never :mod:`service.web`, :mod:`service.evaluation` or the wiring (:mod:`service.components`,
:mod:`service.cli`). ``tests/test_layout.py`` checks it.
"""
