"""The HTTP layer: the app factory, the routes, the request and response schemas (citeqa's and the OpenAI
shapes), API keys and the rate limit, request ids and Prometheus metrics, and the chat page's static files.

May import :mod:`service.answer`, the shared modules (:mod:`service.settings`, :mod:`service.errors`,
:mod:`service.store`), the wiring :mod:`service.components` and :mod:`ingest`; never :mod:`service.evaluation`
or :mod:`service.cli`. ``tests/test_layout.py`` checks it.
"""
