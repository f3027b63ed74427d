"""`gunicorn wsgi:app` entry point; GATEWAY_CONFIG names the configuration file."""

import os

from gateway.app import create_app
from gateway.config import load_settings

app = create_app(load_settings(environ=os.environ))
