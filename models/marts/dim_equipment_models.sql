{#-
    One row per equipment model: the catalogue (seed) and how many units of it the fleet runs now.
    Incremental: a build writes only the models whose row changed (a count moved, the catalogue was
    edited) and drops models no longer in the catalogue, so a build that changed nothing writes nothing.
-#}
{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key='equipment_model_code',
        on_schema_change='fail',
        pre_hook="{{ delete_rows_not_in(ref('equipment_models'), 'equipment_model_code') }}",
    )
}}
with equipment_models as (
    select * from {{ ref('equipment_models') }}
),

units as (
    select * from {{ ref('dim_units') }}
),

fleet_counts as (
    select
        equipment_model_code,
        count(*) as units_in_current_registry
    from units
    where is_in_current_registry
    group by equipment_model_code
),

final as (
    select
        equipment_models.equipment_model_code,
        equipment_models.manufacturer,
        equipment_models.model_family,
        equipment_models.release_year,
        equipment_models.rated_life_cycles,
        equipment_models.service_interval_cycles,
        equipment_models.thrust_class_kn,
        coalesce(fleet_counts.units_in_current_registry, 0) as units_in_current_registry
    from equipment_models
    left join fleet_counts
        on equipment_models.equipment_model_code = fleet_counts.equipment_model_code
)

select * from final
{%- if is_incremental() %}
except
select * from {{ this }}
{%- endif %}
