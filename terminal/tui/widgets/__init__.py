"""Widgets of the merchant TUI; each carries the messages it sends."""
