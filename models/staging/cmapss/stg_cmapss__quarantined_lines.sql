{#-
    The quarantine: every landed line kept out of the clean bronze tables, with the reason.
    Same increment rule as stg_cmapss__sensor_readings (watermark on ingested_at, a file's
    newer version replaces its earlier rows), so per file version:
    lines landed = readings kept + lines quarantined (tested by a reconciliation test).
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='source_file',
    )
}}

with sensor_lines as (
    select * from {{ ref('base_cmapss__sensor_lines_parsed') }}
    where ingested_at > {{ incremental_watermark() }}
),

rul_lines as (
    select * from {{ ref('base_cmapss__rul_lines_parsed') }}
    where ingested_at > {{ incremental_watermark() }}
),

unrecognised_files as (
    select * from {{ ref('base_cmapss__landed_lines') }}
    where ingested_at > {{ incremental_watermark() }} and file_kind = 'unrecognised'
),

rejected as (
    select
        source_file,
        file_version_id,
        file_name,
        'sensor_readings' as file_kind,
        line_number,
        raw_line,
        rejection_reason,
        ingested_at
    from sensor_lines
    where rejection_reason is not null
    union all
    select
        source_file,
        file_version_id,
        file_name,
        'rul_truth' as file_kind,
        line_number,
        raw_line,
        rejection_reason,
        ingested_at
    from rul_lines
    where rejection_reason is not null
    union all
    select
        source_file,
        file_version_id,
        file_name,
        file_kind,
        line_number,
        raw_line,
        'file name does not match train_FDnnn.txt, test_FDnnn.txt or RUL_FDnnn.txt' as rejection_reason,
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
        rejection_reason,
        ingested_at
    from rejected
)

select * from final
