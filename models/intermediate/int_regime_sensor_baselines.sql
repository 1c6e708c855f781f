{#-
    One row per dataset and operating regime: each sensor's mean and standard deviation there.
    A regime is a flight condition: the three settings rounded (var regime_setting_decimals).
    Baselines are fitted on the train split only, so nothing about the test units leaks into
    how every unit is normalised; a dataset with no train rows falls back to all its rows.
-#}
{%- set decimals = var('regime_setting_decimals') %}
{%- set regime_columns = [] %}
{%- for setting in cmapss_setting_columns() %}{% do regime_columns.append('regime_' ~ setting) %}{% endfor %}

with readings as (
    select * from {{ ref('int_sensor_readings_deduplicated') }}
),

with_regime as (
    select
        *,
        {%- for setting in cmapss_setting_columns() %}
        round({{ setting }}, {{ decimals[loop.index0] }}) as regime_{{ setting }},
        {%- endfor %}
        bool_or(split = 'train') over (partition by dataset) as dataset_has_train_rows
    from readings
),

fitting_rows as (
    select * from with_regime
    where split = 'train' or not dataset_has_train_rows
),

final as (
    select
        dataset,
        {%- for setting in cmapss_setting_columns() %}
        regime_{{ setting }},
        {%- endfor %}
        dense_rank() over (
            partition by dataset
            order by {{ regime_columns | join(', ') }}
        ) as operating_regime,
        count(*) as fitted_on_rows,
        {%- for sensor in cmapss_sensor_columns() %}
        avg({{ sensor }}) as {{ sensor }}_mean,
        stddev_samp({{ sensor }}) as {{ sensor }}_std{{ "," if not loop.last }}
        {%- endfor %}
    from fitting_rows
    group by dataset, {{ regime_columns | join(', ') }}
)

select * from final
