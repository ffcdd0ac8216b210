"""ESPnet tasks of this package."""
