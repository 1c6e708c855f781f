{#-
    One row per dataset, split, unit and cycle: the keys, regime, degradation sensors' z-scores
    and degradation index of int_sensor_readings_normalised with the rolling statistics of each
    of those over the unit's last N cycles, the current one included (var feature_windows).
    Windows are ranges of cycles, not of rows, so a missing cycle shortens a window instead of
    stretching it. They hold the unit's cycles whose degradation index is known (every z-score
    is known exactly then: clean readings carry every sensor, and all z-scores are null together
    when the regime is unknown). Every value uses only that unit's readings up to that cycle:
    nothing from the future, nothing from labels. std and slope are null until the window holds
    two readings. drift_mean features are the rolling mean minus the unit's healthy level: the
    mean of its readings over its first var unit_baseline_cycles (30) cycles, counted from its
    first cycle, or up to this cycle before that, so they too use only the unit's own past.

    Three steps, each window sum computed once: the values the windows add, as integers (fixed
    point, see macros/cross_db/rolling_statistics.sql: sums that do not depend on the order of
    addition, so a unit's features are the same whichever units are built with it),
    the window sums (per window: one count and the cycle sums, shared by every source; per
    source: the sums its statistics need), then the statistics.
    A view, so the wide feature table is computed in one pass and stored once, by
    fct_unit_cycle_features, for the units a build changed: windows are partitioned by unit, so
    they need only that unit's history.
-#}
{{ config(materialized=wide_view_materialization()) }}

-- depends_on: {{ ref('int_unit_change_log') }} (so its data tests, scoped to this build's changed units, see them)

{%- set features = rolling_feature_columns() %}
{%- set sources = features | map(attribute='source_column') | unique | list %}
{%- set windows = features | map(attribute='window') | unique | sort %}
{%- set sums_of_squares = features | selectattr('statistic', 'equalto', 'std') | list %}
{%- set sums_of_products = features | selectattr('statistic', 'equalto', 'slope') | list %}
{%- set slope_windows = sums_of_products | map(attribute='window') | unique | sort %}
{#- what the view carries from each reading, beside its rolling statistics -#}
{%- set carried_columns = [
    'unit_id', 'dataset', 'split', 'unit_number', 'cycle', 'reading_at', 'registry_version_id',
    'equipment_model_code', 'operating_regime',
] %}
{%- for sensor in var('degradation_sensors') %}
    {%- do carried_columns.append(sensor ~ '_z') %}
{%- endfor %}
{%- do carried_columns.append('degradation_index') %}
{%- set drift_sources = features | selectattr('statistic', 'equalto', 'drift_mean')
    | map(attribute='source_column') | unique | list %}

with readings as (
    select * from {{ ref('int_sensor_readings_normalised') }}
),

fixed_point_values as (
    select
        {%- for column in carried_columns %}
        {{ column }},
        {%- endfor %}
        case when degradation_index is not null then cycle end as known_cycle,
        case
            when
                degradation_index is not null
                and cycle < min(cycle) over (partition by unit_id) + {{ var('unit_baseline_cycles') }}
                then 1
        end as is_healthy_period_cycle,
        {%- for source in sources %}
        {{ fixed_point(source) }} as {{ source }}__fixed,
        cast({{ fixed_point(source) }} as {{ wide_integer_type() }}) * {{ fixed_point(source) }}
            as {{ source }}__fixed_square,
        cast(cycle as {{ wide_integer_type() }}) * {{ fixed_point(source) }}
            as {{ source }}__fixed_cycle_product{{ "," if not loop.last }}
        {%- endfor %}
    from readings
),

window_sums as (
    select
        *,
        {%- for n in windows %}
        count(known_cycle) over w{{ n }} as known_cycles__w{{ n }},
        {%- endfor %}
        {%- for n in slope_windows %}
        sum(known_cycle) over w{{ n }} as cycle_sum__w{{ n }},
        sum(cast(known_cycle as bigint) * known_cycle) over w{{ n }} as cycle_square_sum__w{{ n }},
        {%- endfor %}
        {%- for source in drift_sources %}
        sum(case when is_healthy_period_cycle = 1 then {{ source }}__fixed end) over w_unit_to_date
            as {{ source }}__healthy_sum,
        {%- endfor %}
        {%- for f in sums_of_squares %}
        sum({{ f.source_column }}__fixed_square) over w{{ f.window }}
            as {{ f.source_column }}__square_sum__w{{ f.window }},
        {%- endfor %}
        {%- for f in sums_of_products %}
        sum({{ f.source_column }}__fixed_cycle_product) over w{{ f.window }}
            as {{ f.source_column }}__cycle_product_sum__w{{ f.window }},
        {%- endfor %}
        {%- for source in sources %}
        {%- set source_windows = features | selectattr('source_column', 'equalto', source) | map(attribute='window') %}
        {%- for n in source_windows | unique | sort %}
        sum({{ source }}__fixed) over w{{ n }} as {{ source }}__sum__w{{ n }},
        {%- endfor %}
        {%- endfor %}
        count(is_healthy_period_cycle) over w_unit_to_date as healthy_period_cycles
    from fixed_point_values
    window
        w_unit_to_date as (
            partition by unit_id order by cycle
            range between unbounded preceding and current row
        ),
        {%- for n in windows %}
        w{{ n }} as (
            partition by unit_id order by cycle
            range between {{ n - 1 }} preceding and current row
        )
        {{- "," if not loop.last }}
        {%- endfor %}
),

final as (
    select
        {%- for column in carried_columns %}
        {{ column }},
        {%- endfor %}
        {%- for f in features %}
        {%- set n = 'known_cycles__w' ~ f.window %}
        {%- set total = f.source_column ~ '__sum__w' ~ f.window %}
        {%- if f.statistic == 'drift_mean' %}
        {{ mean_from_sums(total, n) }}
        - {{ mean_from_sums(f.source_column ~ '__healthy_sum', 'healthy_period_cycles') }} as {{ f.name }}
        {%- elif f.statistic == 'slope' %}
        {{ slope_from_sums(
            n,
            'cycle_sum__w' ~ f.window,
            'cycle_square_sum__w' ~ f.window,
            total,
            f.source_column ~ '__cycle_product_sum__w' ~ f.window
        ) }} as {{ f.name }}
        {%- elif f.statistic == 'std' %}
        {{ std_from_sums(n, total, f.source_column ~ '__square_sum__w' ~ f.window) }} as {{ f.name }}
        {%- else %}
        {{ mean_from_sums(total, n) }} as {{ f.name }}
        {%- endif %}
        {{- "," if not loop.last }}
        {%- endfor %}
    from window_sums
)

select * from final
