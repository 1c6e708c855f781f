{#- One row per unit per registry version (SCD type 2): what each unit was, where, and when. -#}
with registry_versions as (
    select * from {{ ref('int_equipment_registry_versions') }}
),

final as (
    select
        registry_version_id,
        unit_id,
        version_number,
        dataset,
        split,
        unit_number,
        equipment_model_code,
        site_code,
        firmware_version,
        valid_from,
        valid_from_rule,
        valid_to,
        is_current
    from registry_versions
)

select * from final
