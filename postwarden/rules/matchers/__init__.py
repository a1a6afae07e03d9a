"""Matcher families; each module registers its matchers with ``postwarden.rules.registry``."""
