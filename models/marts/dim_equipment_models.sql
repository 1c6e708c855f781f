{#- One row per equipment model: the catalogue (seed) and how many units of it the fleet runs now. -#}
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
