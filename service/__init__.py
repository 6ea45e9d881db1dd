"""The citeqa service, by concern: :mod:`service.answer` (the query pipeline), :mod:`service.web` (the HTTP
layer), :mod:`service.evaluation` (``citeqa eval`` and the judge's training); shared by them: settings, errors
and the store; :mod:`service.components` (the wiring) and :mod:`service.cli` may import everything."""
