{#-
    One row per unit per registry version (SCD type 2): what each unit was, where, and when.
    Incremental per unit: a build rewrites the units whose registry versions changed
    (int_unit_change_log), and no other row.
-#}
{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_changed_units(ref('int_unit_change_log'), 'has_registry_change') }}",
        post_hook="{{ advance_unit_change_watermark() }}",
    )
}}

-- depends_on: {{ ref('int_unit_change_log') }} (the increment and the pre-hook read it)

with registry_versions as (
    select * from {{ ref('int_equipment_registry_versions') }}
    where {{ changed_units_filter(ref('int_unit_change_log'), where='has_registry_change') }}
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
