"""Transports that carry the ``EngineLink`` port between a client and an engine process.

``pyro``: a Pyro5 daemon on a private Unix socket with a shared key (the local daemon mode).
"""
