"""points-gateway: Xoxoday's StoreFront contract in front of a company's own systems."""

from gateway.app import create_app

__all__ = ["create_app"]
