{#-
    One row per dataset and operating regime: each sensor's mean and standard deviation there.
    A regime is a flight condition: the three settings rounded (var regime_setting_decimals).
    Baselines are fitted on the train split only, so nothing about the test units leaks into
    how every unit is normalised; a dataset with no train rows falls back to all its rows.

    Incremental per dataset. The baselines are the one input every unit of a dataset shares, so
    they are refitted only for a dataset whose fitting rows changed: a train unit of it changed
    (new, extended, corrected or removed), or it has no train rows and any unit of it changed.
    Its units are then all reprocessed downstream (int_unit_change_log, `fitted_at`). New test
    units, the everyday delivery of a fleet in service, leave the baselines untouched. Refitting
    on every change (not freezing the first fit) keeps an incremental history of builds equal,
    bit for bit, to a full refresh of the same landing folder.
-#}
{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_refitted_baselines() }}",
        post_hook="{{ advance_unit_change_watermark() }}",
    )
}}
{%- set regime_columns = [] %}
{%- for setting in cmapss_setting_columns() %}{% do regime_columns.append('regime_' ~ setting) %}{% endfor %}

-- depends_on: {{ ref('int_unit_reading_changes') }} (the increment and the pre-hook read it)

with readings as (
    select * from {{ ref('int_sensor_readings_deduplicated') }}
    {%- if is_incremental() %}
    where dataset in ({{ datasets_to_refit() }})
    {%- endif %}
),

with_regime as (
    select
        *,
        {{ regime_key_columns() }},
        bool_or(split = 'train') over (partition by dataset) as dataset_has_train_rows
    from readings
),

fitting_rows as (
    select * from with_regime
    where split = 'train' or not dataset_has_train_rows
),

regime_means as (
    -- Sums in exact decimals: a float sum depends on the order parallel threads add rows in,
    -- and the baselines must be the same to the last bit on every build (gold is versioned
    -- and trained on bit for bit).
    select
        dataset,
        {{ regime_columns | join(',\n        ') }},
        count(*) as fitted_on_rows,
        {%- for sensor in cmapss_sensor_columns() %}
        cast(sum(cast({{ sensor }} as decimal(18, 6))) as double) / count({{ sensor }}) as {{ sensor }}_mean
        {{- "," if not loop.last }}
        {%- endfor %}
    from fitting_rows
    group by dataset, {{ regime_columns | join(', ') }}
),

squared_deviations as (
    select
        regime_means.*,
        {%- for sensor in cmapss_sensor_columns() %}
        cast(
            sum(
                cast(fitting_rows.{{ sensor }} - regime_means.{{ sensor }}_mean as decimal(18, 9))
                * cast(fitting_rows.{{ sensor }} - regime_means.{{ sensor }}_mean as decimal(18, 9))
            ) as double
        ) as {{ sensor }}_sum_of_squares
        {{- "," if not loop.last }}
        {%- endfor %}
    from regime_means
    inner join fitting_rows
        on regime_means.dataset = fitting_rows.dataset
        {%- for column in regime_columns %}
        and regime_means.{{ column }} = fitting_rows.{{ column }}
        {%- endfor %}
    group by all
),

final as (
    select
        dataset,
        {{ regime_columns | join(',\n        ') }},
        -- bigint on every engine (Spark's dense_rank is an int)
        cast(dense_rank() over (partition by dataset order by {{ regime_columns | join(', ') }}) as bigint)
            as operating_regime,
        fitted_on_rows,
        {{ ingestion_timestamp() }} as fitted_at,
        {%- for sensor in cmapss_sensor_columns() %}
        {{ sensor }}_mean,
        case
            when fitted_on_rows > 1 then sqrt({{ sensor }}_sum_of_squares / (fitted_on_rows - 1))
        end as {{ sensor }}_std
        {{- "," if not loop.last }}
        {%- endfor %}
    from squared_deviations
)

select * from final
