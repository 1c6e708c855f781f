{#-
    Expectation "warn": a registry version is normally dated by the registry's own updated_at.
    A row that changed without its updated_at moving forward (unchanged or set back), or a unit
    put back after it was removed from the extract, cannot be dated that way: the version is
    kept and dated by the build that first saw it (int_equipment_registry_versions). Rows
    returned (stored in dbt_test__audit) name the unit, the version and both times. Checked when
    the registry changed (its snapshot or the catalogue) since int_unit_context_hashes last
    digested it, as the view's other tests: otherwise no version changed since the last check.
-#}
{{ config(severity='warn', store_failures=true) }}

with registry_versions as (
    select * from {{ ref('int_equipment_registry_versions') }}
    where {{ expand_unit_scope('__registry_digested_by_int_unit_context_hashes__') }}
),

final as (
    select
        unit_id,
        version_number,
        equipment_model_code,
        site_code,
        firmware_version,
        registry_updated_at,
        captured_at,
        valid_from,
        valid_from_rule,
        'unit ' || unit_id || ' version ' || version_number || ': registry updated_at '
        || cast(registry_updated_at as string) || ' is not later than that of its earlier versions'
        || ' (or the unit was put back after a removal), so the version is dated from '
        || cast(valid_from as string) || ', when a build first saw it' as failure_message
    from registry_versions
    where valid_from_rule in ('captured_at', 'previous_row_start')
)

select * from final
