"""Misdirected outbound mail: the recipient-history model.

A package of its own rather than modules in ``classifiers/``: the concern is more than a
classifier. It learns from delivered mail, keeps state in a store (``postwarden.stores``),
remembers send-anyway confirmations, imports sent-mail folders and carries its own evaluation
and simulated mistakes; the text classifiers share none of that. Modules: ``addresses`` (near
misses and lookalikes), ``history`` (learning and lookup), ``textvec`` (content), ``features``,
``model`` (learned weights), ``scorer``, ``check`` (the engine's Check), ``validity``
(email-validator and MX), ``corpus``, ``simulate`` and ``evaluate``.
"""
