{#-
    Spark only (the registry's SCD2 where dbt snapshots do not run: dbt-spark has no snapshots
    on parquet tables, the only format Spark writes offline here): what snapshots/snap_equipment_registry.sql records on DuckDB, built as a
    change log. Append-only: each build compares today's extract with the state it last
    captured per unit and appends one row per change, dated by the build (dbt_valid_from):
      - a unit new to the registry, changed in any tracked column (updated_at included: the
        check strategy of the snapshot), or put back after a removal: its new state;
      - a unit gone from the extract: a deletion row (its last state, dbt_is_deleted 'True'),
        as the snapshot's hard_deletes='new_record' writes.
    The model snap_equipment_registry (Spark's stand-in for the snapshot) turns these rows into
    validity intervals (lead over the unit).
    The same pre-hook as the snapshot stops a build whose extract is missing, empty or header-only
    while the history holds units, naming the file.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        schema='snapshots',
        enabled=target.type == 'spark',
        pre_hook="{{ assert_registry_extract_not_lost(ref('stg_registry__equipment_registry'), 'snap_equipment_registry') }}",
    )
}}
{%- set unit_columns = ['unit_id', 'dataset', 'split', 'unit_number'] %}
{%- set tracked_columns = [
    'equipment_model_code', 'site_code', 'firmware_version', 'commissioned_at', 'cycle_hours', 'updated_at',
] %}

-- depends_on: {{ ref('equipment_models') }}
-- (as the snapshot: registry_equipment_model_codes_are_known stops the build before a capture)

with registry as (
    select * from {{ ref('stg_registry__equipment_registry') }}
),

latest_captured as (
    {%- if is_incremental() %}
    select *
    from {{ this }}
    qualify row_number() over (partition by unit_id order by dbt_valid_from desc) = 1
    {%- else %}
    select
        *,
        cast(null as string) as dbt_is_deleted
    from registry
    where false
    {%- endif %}
),

new_states as (
    select
        {%- for column in unit_columns + tracked_columns %}
        registry.{{ column }},
        {%- endfor %}
        'False' as dbt_is_deleted
    from registry
    left join latest_captured
        on registry.unit_id = latest_captured.unit_id
    where latest_captured.unit_id is null
        or latest_captured.dbt_is_deleted = 'True'
        {%- for column in tracked_columns %}
        or registry.{{ column }} is distinct from latest_captured.{{ column }}
        {%- endfor %}
),

removals as (
    select
        {%- for column in unit_columns + tracked_columns %}
        latest_captured.{{ column }},
        {%- endfor %}
        'True' as dbt_is_deleted
    from latest_captured
    left join registry
        on latest_captured.unit_id = registry.unit_id
    where registry.unit_id is null
        and latest_captured.dbt_is_deleted = 'False'
),

captured as (
    select * from new_states
    union all
    select * from removals
),

final as (
    select
        {%- for column in unit_columns + tracked_columns %}
        {{ column }},
        {%- endfor %}
        md5(concat_ws('|', unit_id, cast({{ ingestion_timestamp() }} as string))) as dbt_scd_id,
        case when dbt_is_deleted = 'True' then {{ ingestion_timestamp() }} else updated_at end as dbt_updated_at,
        {{ ingestion_timestamp() }} as dbt_valid_from,
        dbt_is_deleted
    from captured
)

select * from final
