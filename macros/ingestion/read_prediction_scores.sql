{#- Every scoring run's Parquet file under <predictions_path>/unit_risk_scores/, typed; none yet
    (before the first training) reads as an empty table with the same columns; a file that is not a
    whole Parquet file is skipped with a warning naming it (read_whole_parquet_files). Files written
    before ml.predict added decision_threshold and is_predicted_to_fail read them as null. -#}
{% macro read_prediction_scores(predictions_path) %}
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
        'decision_threshold': 'double',
        'is_predicted_to_fail': 'boolean',
    } -%}
    {{ read_whole_parquet_files(predictions_path.rstrip('/') ~ '/unit_risk_scores/*.parquet', columns, 'scores') }}
{% endmacro %}
