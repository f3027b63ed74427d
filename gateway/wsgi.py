"""`gunicorn gateway.wsgi:app`: the gateway as a WSGI app for any server, from the installed
package. GATEWAY_CONFIG names the configuration file (and the GATEWAY_* variables override it);
`points-gateway serve` is the same app under gunicorn with the gateway's own settings."""

from gateway.app import create_app

app = create_app()
