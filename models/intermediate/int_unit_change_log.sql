{#-
    The log of which units each build changed, and why: one row per unit per build that changed
    it (append-only; changed_at is that build's start, shared by all its rows). The per-unit
    silver and gold models (and the Delta publish) read the rows logged after their own
    watermark and rewrite just those units. Causes, as flags:
      has_reading_change   its readings (new, late, corrected or removed lines): int_unit_reading_changes
      has_baseline_change  its dataset's regime baselines were refitted (int_regime_sensor_baselines)
      has_registry_change  its registry versions                 (int_unit_context_hashes)
      has_truth_change     its RUL truth                          (int_unit_context_hashes)
      has_score_change     its latest risk score                   (int_unit_context_hashes)
    A full refresh logs every unit, plus one marker row (unit_id null, every flag true,
    is_full_rebuild true): everything downstream may have changed.
-#}
{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='append',
        on_schema_change='fail',
        post_hook="{{ advance_unit_change_watermark() }}",
    )
}}

with reading_changes as (
    select unit_id from {{ ref('int_unit_reading_changes') }}
    where changed_at > {{ unit_change_watermark() }}
),

refitted_datasets as (
    select distinct dataset from {{ ref('int_regime_sensor_baselines') }}
    where fitted_at > {{ unit_change_watermark() }}
),

baseline_changes as (
    select distinct readings.unit_id
    from {{ ref('int_sensor_readings_deduplicated') }} as readings
    inner join refitted_datasets
        on readings.dataset = refitted_datasets.dataset
),

context_changes as (
    select * from {{ ref('int_unit_context_hashes') }}
    where updated_at > {{ unit_change_watermark() }}
),

causes as (
    select
        unit_id,
        true as has_reading_change,
        false as has_baseline_change,
        false as has_registry_change,
        false as has_truth_change,
        false as has_score_change
    from reading_changes
    union all
    select
        unit_id,
        false as has_reading_change,
        true as has_baseline_change,
        false as has_registry_change,
        false as has_truth_change,
        false as has_score_change
    from baseline_changes
    union all
    select
        unit_id,
        false as has_reading_change,
        false as has_baseline_change,
        has_registry_change,
        has_truth_change,
        has_score_change
    from context_changes
),

changed_units as (
    select
        unit_id,
        bool_or(has_reading_change) as has_reading_change,
        bool_or(has_baseline_change) as has_baseline_change,
        bool_or(has_registry_change) as has_registry_change,
        bool_or(has_truth_change) as has_truth_change,
        bool_or(has_score_change) as has_score_change,
        false as is_full_rebuild
    from causes
    group by unit_id
),

logged as (
    select * from changed_units
    {%- if not is_incremental() %}
    union all
    select
        cast(null as string) as unit_id,
        true as has_reading_change,
        true as has_baseline_change,
        true as has_registry_change,
        true as has_truth_change,
        true as has_score_change,
        true as is_full_rebuild
    {%- endif %}
),

final as (
    select
        {{ ingestion_timestamp() }} as changed_at,
        unit_id,
        has_reading_change,
        has_baseline_change,
        has_registry_change,
        has_truth_change,
        has_score_change,
        is_full_rebuild
    from logged
)

select * from final
