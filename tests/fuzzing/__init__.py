"""Fuzzing the running service as an outside tester would: schemathesis with every check, a fresh client JWT
per generated request, against ``cgh-cds serve`` (gunicorn) on 127.0.0.1 with ``CGH_AUTH=required``.

``scripts/fuzz`` runs it long (``python -m tests.fuzzing``); ``tests/integration/test_fuzz.py`` runs it bounded.
"""
