"""The warehouse rules in plain Python: no I/O, no third-party imports."""
