"""Helpers for testing code that uses the client, and for the project's own tests: checked
loads that compare every reply with what the servers may legitimately give."""
