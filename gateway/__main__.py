"""`python -m gateway ...` is `points-gateway ...`."""

from gateway.cli import main

main()
