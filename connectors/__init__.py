"""Connectors: how the gateway reaches HR systems and points ledgers. No Flask in here."""

from connectors.base import (
    ConnectorConfigError,
    ConnectorError,
    GrantsSource,
    IdentityField,
    Profile,
    ProfileSource,
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamUnavailable,
)

__all__ = [
    "ConnectorConfigError",
    "ConnectorError",
    "GrantsSource",
    "IdentityField",
    "Profile",
    "ProfileSource",
    "UpstreamAuthFailed",
    "UpstreamError",
    "UpstreamUnavailable",
]
