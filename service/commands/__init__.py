"""The ``cgh-cds`` tools for testers and governance that work on a user's own FHIR data and fixtures.

``service.cli`` parses the command line and calls these; each module is one command.
"""
