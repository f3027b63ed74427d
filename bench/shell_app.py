"""The gateway's app with its balance view swapped for bare Flask's (bench/bare_app.py).

Same config, blueprints, error handlers and per-request hooks (request id, metrics, request
log) as the gateway, but no token check, lookup or journal read: what the gateway's request
handling costs before it does any work, so the ceiling of the balance ratio, in the same run.
"""

from bench.bare_app import balance
from wsgi import app

app.view_functions["points.balance"] = balance
