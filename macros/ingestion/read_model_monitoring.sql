{#- Every drift run's Parquet file under <predictions_path>/model_monitoring/ (written by
    `python -m ml.monitor`), typed; none yet reads as an empty table with the same columns. A file
    that is not a whole Parquet file (no `PAR1` magic bytes at either end) is skipped with a warning
    naming it, and every other file is read. -#}
{% macro read_model_monitoring(predictions_path) %}
    {{ return(adapter.dispatch('read_model_monitoring', 'pdm_lakehouse')(predictions_path)) }}
{% endmacro %}

{% macro duckdb__read_model_monitoring(predictions_path) %}
    {%- set columns = {
        'computed_at': 'timestamp',
        'feature': 'varchar',
        'psi': 'double',
        'reference_delta_version': 'bigint',
        'current_delta_version': 'bigint',
        'reference_units': 'bigint',
        'current_units': 'bigint',
        'classifier_version': 'varchar',
        'champion_age_versions': 'bigint',
        'champion_age_days': 'double',
    } -%}
    {%- set pattern = predictions_path.rstrip('/') ~ '/model_monitoring/*.parquet' -%}
    {%- set readable = [] -%}
    {%- if files_exist(pattern) -%}
        {%- set checked -%}
            select
                filename,
                size >= 12
                and starts_with(cast(content as varchar), 'PAR1')
                and suffix(cast(content as varchar), 'PAR1') as is_whole_parquet_file
            from read_blob({{ sql_string(pattern) }})
            order by filename
        {%- endset -%}
        {%- for row in run_query(checked).rows -%}
            {%- if row[1] -%}
                {%- do readable.append(row[0]) -%}
            {%- else -%}
                {%- do exceptions.warn("WARNING: monitoring file '" ~ row[0] ~ "' skipped: not a whole Parquet "
                    ~ "file (truncated or still being written); every other drift run is read") -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if readable | length > 0 %}
    select
        {%- for name, type in columns.items() %}
        cast({{ name }} as {{ type }}) as {{ name }},
        {%- endfor %}
        filename as source_file
    from read_parquet([
        {%- for path in readable %}{{ sql_string(path) }}{{ ", " if not loop.last }}{% endfor -%}
    ], filename = true)
    {%- else %}
    {%- do columns.update({'source_file': 'varchar'}) %}
    {{ empty_relation(columns) }}
    {%- endif %}
{% endmacro %}
