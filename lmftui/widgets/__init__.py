"""Widgets of the app and the state they display."""
