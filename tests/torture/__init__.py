"""The torture suite: the gateway run as operators really run it, with everything that can
happen beside it, and the proof that nothing answered "1" is ever lost.

`make torture` runs the long form (`python -m tests.torture`); tests/test_torture.py runs a
short form of each variant in `make test`.
"""
