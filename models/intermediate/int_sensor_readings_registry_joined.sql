{#-
    One row per dataset, split, unit and cycle (the grain of int_sensor_readings_deduplicated:
    the join neither drops nor multiplies rows, tested), each reading joined AS OF its own time
    to the registry version valid then.
    A reading's time is the unit's commissioning plus cycle x cycle_hours (neither changes
    between registry versions). The join is half-open: valid_from <= reading_at < valid_to.
    A unit the registry does not know keeps its readings, with null registry columns.
    A view: fct_unit_cycle_features reads it for the units a build changed, and DuckDB pushes
    that unit filter down to the readings.
-#}
{{ config(materialized='view') }}

-- depends_on: {{ ref('int_unit_change_log') }} (so its data tests, scoped to this build's changed units, see them)

with readings as (
    select * from {{ ref('int_sensor_readings_deduplicated') }}
),

registry_versions as (
    select * from {{ ref('int_equipment_registry_versions') }}
),

unit_clocks as (
    -- from the view, not the CTE above: a CTE read twice is materialised whole by DuckDB (every
    -- unit's versions, before the unit filter of a build or a scoped test reaches it)
    select
        unit_id,
        commissioned_at,
        cycle_hours
    from {{ ref('int_equipment_registry_versions') }}
    where version_number = 1
),

timed as (
    select
        readings.*,
        {{ timestamp_add_hours('unit_clocks.commissioned_at', 'readings.cycle * unit_clocks.cycle_hours') }}
            as reading_at
    from readings
    left join unit_clocks
        on readings.unit_id = unit_clocks.unit_id
),

joined as (
    select
        timed.*,
        registry_versions.registry_version_id,
        registry_versions.equipment_model_code,
        registry_versions.site_code,
        registry_versions.firmware_version
    from timed
    left join registry_versions
        on timed.unit_id = registry_versions.unit_id
        and timed.reading_at >= registry_versions.valid_from
        and timed.reading_at < coalesce(registry_versions.valid_to, cast('9999-12-31' as timestamp))
)

select * from joined
