"""Re-runnable benchmarks of the pipeline (each a module: ``python -m benchmarks.<name>``)."""
