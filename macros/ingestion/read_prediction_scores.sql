{#- Every scoring run's Parquet file under <predictions_path>/unit_risk_scores/, typed; none yet
    (before the first training) reads as an empty table with the same columns. A file that is
    not a whole Parquet file (it lacks the `PAR1` magic bytes at either end: truncated, or still
    being written) is skipped with a warning naming it, and every other file's scores are read. -#}
{% macro read_prediction_scores(predictions_path) %}
    {{ return(adapter.dispatch('read_prediction_scores', 'pdm_lakehouse')(predictions_path)) }}
{% endmacro %}

{% macro duckdb__read_prediction_scores(predictions_path) %}
    {%- set columns = {
        'unit_id': 'varchar',
        'dataset': 'varchar',
        'split': 'varchar',
        'unit_number': 'integer',
        'cycle': 'integer',
        'failure_probability': 'double',
        'predicted_rul': 'double',
        'classifier_version': 'varchar',
        'regressor_version': 'varchar',
        'features_delta_version': 'bigint',
        'scored_at': 'timestamp',
    } -%}
    {%- set pattern = predictions_path.rstrip('/') ~ '/unit_risk_scores/*.parquet' -%}
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
                {%- do exceptions.warn("WARNING: scores file '" ~ row[0] ~ "' skipped: not a whole Parquet file "
                    ~ "(truncated or still being written); every other scoring run's scores are read") -%}
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
