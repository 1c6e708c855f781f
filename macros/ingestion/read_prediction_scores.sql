{#- Every scoring run's Parquet file under <predictions_path>/unit_risk_scores/, typed; none yet
    (before the first training) reads as an empty table with the same columns. -#}
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
    {%- if files_exist(pattern) %}
    select
        {%- for name, type in columns.items() %}
        cast({{ name }} as {{ type }}) as {{ name }},
        {%- endfor %}
        filename as source_file
    from read_parquet({{ sql_string(pattern) }}, filename = true)
    {%- else %}
    {%- do columns.update({'source_file': 'varchar'}) %}
    {{ empty_relation(columns) }}
    {%- endif %}
{% endmacro %}
