"""postwarden: a milter that stops spam, phishing and misdirected outbound mail."""

__version__ = "0.1.0"
