"""rankbind: structural and binding-affinity modelling of the RANKL axis."""

__version__ = "0.1.0"
