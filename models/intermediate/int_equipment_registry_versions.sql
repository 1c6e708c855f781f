{#-
    One row per unit per registry version, with half-open validity [valid_from, valid_to)
    (valid_to null = current), and the equipment model's catalogue attributes.
    The snapshot dates a version by the registry's updated_at; the first version of a unit is
    back-dated to its commissioning, because the snapshot cannot see history before its own
    first run and a reading taken before that must still find the unit's registry entry.
-#}
with snapshot_rows as (
    select * from {{ ref('snap_equipment_registry') }}
),

equipment_models as (
    select * from {{ ref('equipment_models') }}
),

versioned as (
    select
        unit_id,
        dataset,
        split,
        unit_number,
        equipment_model_code,
        site_code,
        firmware_version,
        commissioned_at,
        cycle_hours,
        updated_at,
        dbt_scd_id as registry_version_id,
        dbt_valid_from,
        dbt_valid_to,
        row_number() over (partition by unit_id order by dbt_valid_from) as version_number
    from snapshot_rows
),

final as (
    select
        versioned.registry_version_id,
        versioned.unit_id,
        versioned.version_number,
        versioned.dataset,
        versioned.split,
        versioned.unit_number,
        versioned.equipment_model_code,
        equipment_models.manufacturer,
        equipment_models.model_family,
        versioned.site_code,
        versioned.firmware_version,
        versioned.commissioned_at,
        versioned.cycle_hours,
        case
            when versioned.version_number = 1
                then least(versioned.dbt_valid_from, versioned.commissioned_at)
            else versioned.dbt_valid_from
        end as valid_from,
        versioned.dbt_valid_to as valid_to,
        versioned.dbt_valid_to is null as is_current
    from versioned
    left join equipment_models
        on versioned.equipment_model_code = equipment_models.equipment_model_code
)

select * from final
