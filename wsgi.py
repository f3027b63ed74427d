"""`gunicorn wsgi:app` entry point; GATEWAY_CONFIG names the configuration file."""

from gateway.app import create_app

app = create_app()
