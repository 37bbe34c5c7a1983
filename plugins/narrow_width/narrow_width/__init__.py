"""ntk-attack plugin: narrow networks (m << d), checked through the toolkit's public API."""
