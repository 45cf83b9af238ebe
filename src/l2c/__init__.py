"""L2C — open-source Sales Force Automation covering the whole lead-to-cash chain."""

__version__ = "0.1.0"
