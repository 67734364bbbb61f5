"""Pure domain logic of the terminal: no I/O, no clocks, no network, no UI.

Imports only the standard library and small pure libraries; a test enforces it.
"""
