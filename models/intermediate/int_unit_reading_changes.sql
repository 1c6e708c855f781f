{#-
    Which units' readings a build may have changed: one row per unit per build that touched it
    (append-only; changed_at is that build's start). A unit is touched when any version of a
    sensor file holding its lines was landed since this model last ran: a new file brings its
    units, and a corrected file names both the units of its new lines and those of the version
    it replaced (which may have lost rows, or the unit itself). Units are read from the raw
    lines' first token, so even a replaced version whose lines have left the clean tables
    names them. A line whose first token is no unit number names no unit (it is quarantined).
    A unit erased with `make erase` (stg_erasures__erased_units) is named once by the first build
    after its erasure (its lines are gone from bronze, so no file names it): the per-unit models
    then delete its rows and find none to insert.
    Costs a pass over the lines of the touched files only, never over the history.

    The quality gate: this model (the root of the per-unit silver and gold) runs after
    mart_data_quality and its tests, so a file whose quarantined share passes the error limit
    stops the build before silver and gold take its new version: they keep their last good state
    until the file is corrected (the changes are then caught up from the watermark).
-#}
{{
    config(
        materialized=incremental_materialization(),
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
    -- from the table, not the CTE above: a CTE read twice is materialised whole by DuckDB (every
    -- sensor line, 5.4 GB RSS and 4 s of a build with nothing new at 20 M readings)
    select distinct source_file
    from {{ ref('base_cmapss__landed_lines') }}
    where file_kind = 'sensor_readings' and ingested_at > {{ incremental_watermark() }}
),

touched_lines as (
    select
        landed_lines.dataset,
        landed_lines.split,
        {{ raw_line_unit_number('landed_lines.raw_line') }} as unit_number
    from landed_lines
    inner join touched_files
        on landed_lines.source_file = touched_files.source_file
    where landed_lines.line_number > 0
),

erased_units as (
    select * from {{ ref('stg_erasures__erased_units') }}
),

newly_erased_units as (
    -- erased units no build has named since their erasure
    select
        erased_units.dataset,
        erased_units.split,
        erased_units.unit_number
    from erased_units
    {%- if is_incremental() %}
    where not exists (
        select 1
        from {{ this }} as named
        where named.unit_id = erased_units.unit_id
            and named.changed_at >= erased_units.erased_at
    )
    {%- endif %}
),

units as (
    select distinct
        dataset,
        split,
        unit_number
    from touched_lines
    where unit_number is not null
    union
    select
        dataset,
        split,
        unit_number
    from newly_erased_units
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
