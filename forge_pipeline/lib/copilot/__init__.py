"""Gemini: the client and every task that may send it something."""
