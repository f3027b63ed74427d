"""`gunicorn wsgi:app` from a checkout; installed, it is `gunicorn gateway.wsgi:app`."""

from gateway.wsgi import app

__all__ = ["app"]
