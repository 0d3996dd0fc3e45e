"""rollcall package."""
