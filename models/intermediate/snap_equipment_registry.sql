{#-
    Spark only, in place of the dbt snapshot of the same name (snapshots/snap_equipment_registry.sql,
    disabled there: dbt-spark snapshots need Delta): the registry's captured states
    (int_equipment_registry_captures) with the snapshot's columns, in its schema: each row valid
    from its capture (dbt_valid_from) until the unit's next captured row (dbt_valid_to, null for
    the latest), a deletion row included. So int_equipment_registry_versions, its unit tests and
    everything downstream read `snap_equipment_registry` on both engines.
-#}
{{ config(materialized='view', schema='snapshots', enabled=target.type == 'spark') }}

with captures as (
    select * from {{ ref('int_equipment_registry_captures') }}
),

final as (
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
        dbt_scd_id,
        dbt_updated_at,
        dbt_valid_from,
        lead(dbt_valid_from) over (partition by unit_id order by dbt_valid_from) as dbt_valid_to,
        dbt_is_deleted
    from captures
)

select * from final
