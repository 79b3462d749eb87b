"""screener: restricted-party screening for export compliance."""

__version__ = "0.1.0"
