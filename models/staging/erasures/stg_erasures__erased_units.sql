{#- The units erased with `make erase`: the ingestion, the registry and the RUL-truth mapping read it. -#}
-- depends_on: {{ source('erasures', 'erased_units') }}

with tombstone as (
    {{ read_erased_units(erasures_path()) }}
),

final as (
    select
        unit_id,
        dataset,
        split,
        unit_number,
        min(erased_at) as erased_at
    from tombstone
    group by unit_id, dataset, split, unit_number
)

select * from final
