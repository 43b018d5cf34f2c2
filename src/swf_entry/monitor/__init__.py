"""``swf monitor`` (a token-protected web UI, live) and ``swf report`` (one HTML file).

The monitor is an entry over the client API: every read and every action goes through
the ``EngineLink`` (``source.MonitorSource``), so it works for any resource a client can
reach and adds no path into the engine.
"""
