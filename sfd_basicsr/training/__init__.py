"""The training stack: the options (schema, check, file, weights to fetch), BasicSR's pipelines with them, the demo."""
