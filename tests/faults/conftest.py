"""Fault injection: real small scripts run as commands, real processes, no mocks."""
