"""Schedulers behind the ``swf_app.ports.Scheduler`` port: one sub-package per technology."""
