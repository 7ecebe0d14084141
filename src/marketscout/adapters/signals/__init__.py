"""HTTP adapters that collect signals from outside sources."""
