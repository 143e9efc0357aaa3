"""tierwise: risk-adjusted client tiering for banks."""

__version__ = "0.1.0"

__all__ = ["__version__"]
