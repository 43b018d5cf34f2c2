"""Adapters that plug real technology (SQLAlchemy, psutil, Pyro5, ...) into swf_app's ports."""
