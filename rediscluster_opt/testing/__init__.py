"""Helpers for testing code that uses the client, and for the project's own tests and
lab: fake nodes with no server (`fake`), checked loads that compare every reply with what
the servers may legitimately give (`pipelines`, `single_execution`), production faults on
a local cluster (`faults`) and live slot migration (`migration`)."""
