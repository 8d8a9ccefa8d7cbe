"""clets-watch: a real-time compliance watch over CLETS queries."""

__version__ = "0.1.0"
