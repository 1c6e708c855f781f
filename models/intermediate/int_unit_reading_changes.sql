{#-
    Which units' readings a build may have changed: one row per unit per build that touched it
    (append-only; changed_at is that build's start). A unit is touched when any version of a
    sensor file holding its lines was landed since this model last ran: a new file brings its
    units, and a corrected file names both the units of its new lines and those of the version
    it replaced (which may have lost rows, or the unit itself). Units are read from the raw
    lines' first token, so even a replaced version whose lines have left the clean tables
    names them. A line whose first token is no unit number names no unit (it is quarantined).
    Costs a pass over the lines of the touched files only, never over the history.

    The quality gate: this model (the root of the per-unit silver and gold) runs after
    mart_data_quality and its tests, so a file whose quarantined share passes the error limit
    stops the build before silver and gold take its new version: they keep their last good state
    until the file is corrected (the changes are then caught up from the watermark).
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        post_hook="{{ advance_ingestion_watermark() }}",
    )
}}

-- depends_on: {{ ref('mart_data_quality') }} (the quality gate: its error-level tests run first)

with landed_lines as (
    select * from {{ ref('base_cmapss__landed_lines') }}
    where file_kind = 'sensor_readings'
),

touched_files as (
    select distinct source_file
    from landed_lines
    where ingested_at > {{ incremental_watermark() }}
),

touched_lines as (
    select
        landed_lines.dataset,
        landed_lines.split,
        try_cast(regexp_extract(landed_lines.raw_line, '^\s*(\S+)', 1) as double) as first_value
    from landed_lines
    inner join touched_files
        on landed_lines.source_file = touched_files.source_file
    where landed_lines.line_number > 0
),

units as (
    select distinct
        dataset,
        split,
        cast(first_value as integer) as unit_number
    from touched_lines
    where first_value > 0 and first_value < 2147483647 and first_value = floor(first_value)
),

final as (
    select
        {{ unit_id('dataset', 'split', 'unit_number') }} as unit_id,
        dataset,
        split,
        unit_number,
        {{ ingestion_timestamp() }} as changed_at
    from units
)

select * from final
