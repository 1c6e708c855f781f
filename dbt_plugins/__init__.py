"""The project's dbt-duckdb plugins, registered in profiles.yml (`plugins:` + `module_paths:`)."""
