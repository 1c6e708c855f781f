{#-
    The table ML trains on: one row per dataset, split, unit and cycle, with the unit's
    regime-normalised sensor values, their rolling statistics and the labels. Features come
    only from readings up to that cycle; labels come from int_unit_cycle_labels, the only model
    that reads the RUL truth. One pass: int_unit_cycle_rolling_features carries the z-scores
    beside the windows, so only the narrow labels are joined.

    Incremental per unit: a build rewrites the units int_unit_change_log names since this
    table's watermark for any cause but a new score (readings, regime baselines, registry,
    RUL truth), and leaves every other unit's rows untouched. The changed units reach the views
    upstream as a literal list, which DuckDB pushes down to the readings (their datasets, as a
    list, down to the labels' RUL truth mapping, computed for those datasets only). They are
    written in batches of whole units (macros/incremental/unit_batches.sql) of about var
    unit_batch_readings readings, so the windows of a first build or a full refresh fit in memory
    at any fleet size.
-#}
{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook=[
            "{{ delete_changed_units(ref('int_unit_change_log'), var('feature_change_causes')) }}",
            "{{ plan_unit_batches(ref('int_sensor_readings_deduplicated'), changed_units_filter(ref('int_unit_change_log'), where=var('feature_change_causes'))) }}",
        ],
        post_hook=[
            "{{ write_remaining_unit_batches() }}",
            "{{ advance_unit_change_watermark() }}",
        ],
    )
}}
{%- set degradation_sensors = var('degradation_sensors').keys() | list %}
{%- set changed_units = changed_units_filter(ref('int_unit_change_log'), where=var('feature_change_causes')) %}
{#- the changed units' datasets: the labels' RUL truth mapping is computed for those only (as a list:
    a range would reach the labels' readings scan too, and spoil its unit range, see dataset_in) -#}
{%- set changed_datasets = dataset_in('dataset', datasets_of_units(
    changed_unit_ids(ref('int_unit_change_log'), var('feature_change_causes'))) if is_incremental() else none,
    with_range=false) %}

-- depends_on: {{ ref('int_unit_change_log') }} (the increment and the pre-hook read it)

with features as (
    select * from {{ ref('int_unit_cycle_rolling_features') }}
    where {{ changed_units }} and {{ unit_batch_filter('unit_id') }}
),

labels as (
    select * from {{ ref('int_unit_cycle_labels') }}
    where {{ changed_units }} and {{ changed_datasets }} and {{ unit_batch_filter('unit_id') }}
),

final as (
    select
        features.unit_id,
        features.dataset,
        features.split,
        features.unit_number,
        features.cycle,
        features.reading_at,
        features.registry_version_id,
        features.equipment_model_code,
        features.operating_regime,
        {%- for sensor in degradation_sensors %}
        features.{{ sensor }}_z,
        {%- endfor %}
        features.degradation_index,
        {%- for feature in rolling_feature_columns() %}
        features.{{ feature.name }},
        {%- endfor %}
        labels.is_last_observed_cycle,
        labels.rul,
        labels.rul_capped,
        labels.fails_within_30_cycles
    from features
    inner join labels
        on features.unit_id = labels.unit_id
        and features.cycle = labels.cycle
)

select * from final
