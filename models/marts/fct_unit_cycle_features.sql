{#-
    The table ML trains on: one row per dataset, split, unit and cycle, with the unit's
    regime-normalised sensor values, their rolling statistics and the labels. Features come
    only from readings up to that cycle; labels come from int_unit_cycle_labels, the only model
    that reads the RUL truth.
-#}
{%- set degradation_sensors = var('degradation_sensors').keys() | list %}

with readings as (
    select * from {{ ref('int_sensor_readings_normalised') }}
),

rolling_features as (
    select * from {{ ref('int_unit_cycle_rolling_features') }}
),

labels as (
    select * from {{ ref('int_unit_cycle_labels') }}
),

final as (
    select
        readings.unit_id,
        readings.dataset,
        readings.split,
        readings.unit_number,
        readings.cycle,
        readings.reading_at,
        readings.registry_version_id,
        readings.equipment_model_code,
        readings.operating_regime,
        {%- for sensor in degradation_sensors %}
        readings.{{ sensor }}_z,
        {%- endfor %}
        readings.degradation_index,
        {%- for feature in rolling_feature_columns() %}
        rolling_features.{{ feature.name }},
        {%- endfor %}
        labels.is_last_observed_cycle,
        labels.rul,
        labels.rul_capped,
        labels.fails_within_30_cycles
    from readings
    inner join rolling_features
        on readings.unit_id = rolling_features.unit_id
        and readings.cycle = rolling_features.cycle
    inner join labels
        on readings.unit_id = labels.unit_id
        and readings.cycle = labels.cycle
)

select * from final
