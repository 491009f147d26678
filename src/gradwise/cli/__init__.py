"""The ``gradwise`` command line."""
