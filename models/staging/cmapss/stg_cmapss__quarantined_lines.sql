{#-
    The quarantine: every landed line kept out of the clean bronze tables, with the rule it
    broke and a message naming the problem. Same increment rule as stg_cmapss__sensor_readings
    (its watermark in bronze.ingestion_watermarks, advanced by the post-hook; the sensor lines
    from the batch parsed once for both; a file's newer version replaces its earlier rows unless it is
    rejected as unreadable), so per current file version: lines landed = readings kept + lines
    quarantined (the reconciliation test).
    A file with an unrecognised name is quarantined whole, line by line.
-#}
{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key='source_file',
        on_schema_change='append_new_columns',
        pre_hook="{{ delete_rows_of_relanded_files() }}",
        post_hook="{{ advance_ingestion_watermark() }}",
    )
}}

-- depends_on: {{ ref('base_cmapss__landed_lines') }} (the pre-hook reads it)
-- depends_on: {{ ref('base_cmapss__sensor_lines_parsed') }} (the parsed batch, through sensor_lines_to_process)

with sensor_lines as (
    {{ newest_landings_since_watermark(sensor_lines_to_process(), 'rejection_rule is not null') }}
),

rul_lines as (
    {{ newest_landings_since_watermark(ref('base_cmapss__rul_lines_parsed'), 'rejection_rule is not null') }}
),

unrecognised_files as (
    {{ newest_landings_since_watermark(
        ref('base_cmapss__landed_lines'),
        "file_kind = 'unrecognised' and duplicate_of_source_file is null",
    ) }}
),

rejected as (
    select
        source_file,
        file_version_id,
        file_name,
        'sensor_readings' as file_kind,
        line_number,
        raw_line,
        rejection_rule,
        rejection_reason,
        ingested_at
    from sensor_lines
    union all
    select
        source_file,
        file_version_id,
        file_name,
        'rul_truth' as file_kind,
        line_number,
        raw_line,
        rejection_rule,
        rejection_reason,
        ingested_at
    from rul_lines
    union all
    select
        source_file,
        file_version_id,
        file_name,
        file_kind,
        line_number,
        raw_line,
        'unrecognised_file_name' as rejection_rule,
        'file name does not match train_FDnnn.txt, test_FDnnn.txt or RUL_FDnnn.txt'
        || coalesce(' (' || file_error || ')', '') as rejection_reason,
        ingested_at
    from unrecognised_files
),

final as (
    select
        source_file,
        file_version_id,
        file_name,
        file_kind,
        line_number,
        raw_line,
        rejection_rule,
        rejection_reason,
        ingested_at
    from rejected
)

select * from final
