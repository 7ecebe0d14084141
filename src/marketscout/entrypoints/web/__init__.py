"""The web dashboard: server-rendered pages on the same use cases as the JSON API."""
