"""mockidp: stand-in identity providers for testing API clients."""

__version__ = "0.1.0"
