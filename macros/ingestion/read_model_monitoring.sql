{#- Every drift run's Parquet file under <predictions_path>/model_monitoring/ (written by
    `python -m ml.monitor`), typed; none yet reads as an empty table with the same columns; a file
    that is not a whole Parquet file is skipped with a warning naming it (read_whole_parquet_files). -#}
{% macro read_model_monitoring(predictions_path) %}
    {%- set columns = {
        'computed_at': 'timestamp',
        'feature': 'varchar',
        'psi': 'double',
        'noise_psi': 'double',
        'reference_delta_version': 'bigint',
        'current_delta_version': 'bigint',
        'reference_units': 'bigint',
        'current_units': 'bigint',
        'classifier_version': 'varchar',
        'champion_age_versions': 'bigint',
        'champion_age_days': 'double',
    } -%}
    {{ read_whole_parquet_files(predictions_path.rstrip('/') ~ '/model_monitoring/*.parquet', columns, 'monitoring') }}
{% endmacro %}
