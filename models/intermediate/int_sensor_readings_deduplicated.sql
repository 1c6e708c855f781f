{#-
    One row per dataset, split, unit and cycle. When a cycle was landed more than once (the same
    reading in a later delivery, or a file landed under a second name), the latest landed wins:
    the newest content_ingested_at (the build that first took in the file's content; a full
    refresh keeps it from the bronze it replaces, so it ranks the deliveries as the incremental
    builds that read them one after the other did); among files read in one build (a first
    build, a copy read again with the file it copied, files new to a full refresh), the one
    modified last; then the file name that sorts last (macros/ingestion/latest_landing_first.sql,
    shared with int_rul_truth_mapped), then the last line in that file.

    Incremental per unit: a build rewrites only the units int_unit_reading_changes names since
    this model's watermark (all their rows, from the unit's whole clean history), and no row of
    any other unit. Rows of a unit whose every reading is gone are deleted.
-#}
{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_changed_units(ref('int_unit_reading_changes')) }}",
        post_hook="{{ advance_unit_change_watermark() }}",
    )
}}

-- depends_on: {{ ref('int_unit_reading_changes') }} (the increment and the pre-hook read it)

with readings as (
    select readings.*
    from {{ ref('stg_cmapss__sensor_readings') }} as readings
    {%- if is_incremental() %}
    inner join (
        {{ units_changed_since_watermark(ref('int_unit_reading_changes'), columns='dataset, split, unit_number') }}
    ) as changed_units
        on readings.dataset = changed_units.dataset
        and readings.split = changed_units.split
        and readings.unit_number = changed_units.unit_number
    {%- endif %}
),

file_versions as (
    select
        file_version_id,
        content_ingested_at,
        file_modified_at
    from {{ ref('base_cmapss__landed_file_versions') }}
),

ranked as (
    select
        readings.*,
        row_number() over (
            partition by readings.dataset, readings.split, readings.unit_number, readings.cycle
            order by {{ latest_landing_first('readings', 'file_versions') }}, readings.line_number desc
        ) as landing_rank,
        count(*) over (
            partition by readings.dataset, readings.split, readings.unit_number, readings.cycle
        ) as times_landed
    from readings
    left join file_versions
        on readings.file_version_id = file_versions.file_version_id
),

final as (
    select
        {{ unit_id('dataset', 'split', 'unit_number') }} as unit_id,
        dataset,
        split,
        unit_number,
        cycle,
        {%- for column in cmapss_setting_columns() + cmapss_sensor_columns() %}
        {{ column }},
        {%- endfor %}
        times_landed,
        source_file,
        line_number,
        ingested_at
    from ranked
    where landing_rank = 1
)

select * from final
