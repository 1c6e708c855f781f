{#- Today's equipment registry extract, as the operational system last wrote it. -#}
-- depends_on: {{ source('registry', 'equipment_registry') }}

with registry as (
    {{ read_registry_extract(var('registry_path')) }}
),

final as (
    select
        {{ unit_id('dataset', 'split', 'unit_number') }} as unit_id,
        dataset,
        split,
        unit_number,
        equipment_model_code,
        site_code,
        firmware_version,
        commissioned_at,
        cycle_hours,
        updated_at
    from registry
)

select * from final
