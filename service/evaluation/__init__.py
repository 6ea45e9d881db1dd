"""The evaluation harness (``citeqa eval``: inputs, targets, scores, support judges, the report) and the judge's
training (``citeqa train-judge``).

May import :mod:`service.answer`, the shared modules (:mod:`service.settings`, :mod:`service.errors`,
:mod:`service.store`), the wiring :mod:`service.components` and :mod:`ingest`; never :mod:`service.web` or
:mod:`service.cli`. ``tests/test_layout.py`` checks it.
"""
