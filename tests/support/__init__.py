"""Real loopback receivers shared by InferSight tests: OTLP (gRPC, HTTP, JSON files), webhook, SMTP.

Import what you need from the submodules; this package only names them:
``tests.support.otlp``, ``tests.support.otlp_json``, ``tests.support.webhook``, ``tests.support.smtp``,
``tests.support.cli`` (the ``infersight`` command run in-process) and ``tests.support.cpu`` (CPU
burners kept apart from wall-clock assertions under pytest-xdist).
"""
