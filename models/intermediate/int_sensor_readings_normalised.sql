{#-
    One row per dataset, split, unit and cycle: the registry-joined reading with its operating
    regime and every sensor normalised within that regime, z = (value - regime mean) / regime
    std. In a six-condition fleet raw levels jump with the flight condition; the z-scores are
    comparable across regimes. A sensor constant in a regime (std 0) has z = 0; a reading in a
    regime never seen in training has null z-scores and operating_regime null.
    degradation_index is the mean of the direction-signed z-scores of the sensors that drift
    with wear (var degradation_sensors): about 0 for a healthy unit, rising as it wears.
    A view, read per changed unit by fct_unit_cycle_features (like int_sensor_readings_registry_joined).
-#}
{{ config(materialized='view') }}

-- depends_on: {{ ref('int_unit_change_log') }} (so its data tests, scoped to this build's changed units, see them)

{%- set degradation_sensors = var('degradation_sensors') %}

with readings as (
    select * from {{ ref('int_sensor_readings_registry_joined') }}
),

baselines as (
    select * from {{ ref('int_regime_sensor_baselines') }}
),

with_regime_key as (
    select
        *,
        {{ regime_key_columns() }}
    from readings
),

normalised as (
    select
        with_regime_key.*,
        baselines.operating_regime,
        {%- for sensor in cmapss_sensor_columns() %}
        case
            when baselines.{{ sensor }}_std > 0
                then (with_regime_key.{{ sensor }} - baselines.{{ sensor }}_mean) / baselines.{{ sensor }}_std
            when baselines.operating_regime is not null then 0.0
        end as {{ sensor }}_z{{ "," if not loop.last }}
        {%- endfor %}
    from with_regime_key
    left join baselines
        on with_regime_key.dataset = baselines.dataset
        {%- for setting in cmapss_setting_columns() %}
        and with_regime_key.regime_{{ setting }} = baselines.regime_{{ setting }}
        {%- endfor %}
),

final as (
    select
        *,
        (
            {%- for sensor, direction in degradation_sensors.items() %}
            {{ direction }} * {{ sensor }}_z{{ " +" if not loop.last }}
            {%- endfor %}
        ) / {{ degradation_sensors | length }} as degradation_index
    from normalised
)

select * from final
