{#- Today's equipment registry extract, as the operational system last wrote it, less the units
    erased with `make erase` (the extract is the source system's file: it may still list them). -#}
-- depends_on: {{ source('registry', 'equipment_registry') }}

with registry as (
    {{ read_registry_extract(var('registry_path')) }}
),

erased_units as (
    select * from {{ ref('stg_erasures__erased_units') }}
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
    where not coalesce(
        {{ unit_id('dataset', 'split', 'unit_number') }} in (select erased_units.unit_id from erased_units),
        false
    )
)

select * from final
