"""callcenter: an on-premise contact-centre server built on Asterisk."""

__version__ = "0.1.0"
__all__ = ["__version__"]
