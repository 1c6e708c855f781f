{#-
    One row per unit: every unit that has readings or a registry entry, with its registry
    attributes as they stand now (the latest version) and what has been observed of it.
    Incremental per unit: a build rewrites the units whose readings, registry versions or RUL
    truth changed (int_unit_change_log), and no other row. It reads the readings and registry
    versions of those units and the RUL truth of their datasets only: a build that changed no
    unit reads none of them.
-#}
{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_changed_units(ref('int_unit_change_log'), var('unit_change_causes')) }}",
        post_hook="{{ advance_unit_change_watermark() }}",
    )
}}
{%- set changed_unit_list = none %}
{%- if is_incremental() %}
    {%- set changed_unit_list = changed_unit_ids(ref('int_unit_change_log'), var('unit_change_causes')) %}
{%- endif %}
{%- set changed_units = unit_id_in('unit_id', changed_unit_list) if is_incremental() else 'true' %}
{%- set changed_datasets = dataset_in('dataset', datasets_of_units(changed_unit_list) if is_incremental() else none) %}

-- depends_on: {{ ref('int_unit_change_log') }} (the increment and the pre-hook read it)

with readings as (
    select * from {{ ref('int_sensor_readings_deduplicated') }}
    where {{ changed_units }}
),

registry_versions as (
    select * from {{ ref('int_equipment_registry_versions') }}
    where {{ changed_units }}
),

rul_truth as (
    -- the truth labels use: a line that maps to the unit, in a file whose mapping is trusted; read
    -- for the changed units' datasets only (the mapping view computes what it is asked for)
    select
        dataset,
        unit_number
    from {{ ref('int_rul_truth_mapped') }}
    where rul_cycles is not null and {{ changed_datasets }}
),

observed as (
    select
        unit_id,
        dataset,
        split,
        unit_number,
        min(cycle) as first_observed_cycle,
        max(cycle) as last_observed_cycle,
        count(*) as observed_cycles
    from readings
    group by unit_id, dataset, split, unit_number
),

counted_versions as (
    select
        *,
        count(*) over (partition by unit_id) as registry_version_count
    from registry_versions
),

latest_versions as (
    select * from counted_versions
    where version_number = registry_version_count
),

units as (
    select
        unit_id,
        dataset,
        split,
        unit_number
    from observed
    union
    select
        unit_id,
        dataset,
        split,
        unit_number
    from latest_versions
),

final as (
    select
        units.unit_id,
        units.dataset,
        units.split,
        units.unit_number,
        latest_versions.unit_id is not null as is_registered,
        coalesce(latest_versions.is_current, false) as is_in_current_registry,
        latest_versions.equipment_model_code,
        latest_versions.manufacturer,
        latest_versions.model_family,
        latest_versions.site_code,
        latest_versions.firmware_version,
        latest_versions.commissioned_at,
        latest_versions.cycle_hours,
        coalesce(latest_versions.registry_version_count, 0) as registry_version_count,
        latest_versions.valid_from as registry_version_valid_from,
        observed.first_observed_cycle,
        observed.last_observed_cycle,
        coalesce(observed.observed_cycles, 0) as observed_cycles,
        units.split = 'test' and rul_truth.unit_number is not null as has_rul_truth
    from units
    left join latest_versions
        on units.unit_id = latest_versions.unit_id
    left join observed
        on units.unit_id = observed.unit_id
    left join rul_truth
        on units.dataset = rul_truth.dataset
        and units.unit_number = rul_truth.unit_number
        and units.split = 'test'
)

select * from final
