"""Outgoing mail: rendering notifications and delivering the outbox."""
