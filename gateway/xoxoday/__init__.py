"""Xoxoday's own API, which the gateway calls: the SSO launch and its tokens."""
