"""upcall-sync: declarative sync for Upcall phone campaigns."""

__version__ = "0.1.0"
