{#-
    One row per dataset, split, unit and cycle: the regime-normalised reading (every column of
    int_sensor_readings_normalised) with the rolling statistics of each wear-sensitive sensor's
    z-score (and of the degradation index) over the unit's last N cycles, the current one
    included (var feature_windows). Windows are ranges of cycles, not of rows, so a missing cycle
    shortens a window instead of stretching it. Every value uses only that unit's readings up to
    that cycle: nothing from the future, nothing from labels. std and slope are null until the
    window holds two readings. drift_mean features are the rolling mean minus the unit's healthy
    level: the mean of its readings over its first var unit_baseline_cycles (30) cycles, counted
    from its first cycle, or up to this cycle before that, so they too use only the unit's own past.
    A view, so the wide feature table is computed in one pass (readings, z-scores and windows
    together, no join of wide tables) and stored once, by fct_unit_cycle_features, for the units
    a build changed: windows are partitioned by unit, so they need only that unit's history.
-#}
{{ config(materialized='view') }}

-- depends_on: {{ ref('int_unit_change_log') }} (so its data tests, scoped to this build's changed units, see them)

{%- set features = rolling_feature_columns() %}
{%- set windows = features | map(attribute='window') | unique | sort %}

with readings as (
    select * from {{ ref('int_sensor_readings_normalised') }}
),

unit_first_cycles as (
    select
        unit_id,
        min(cycle) as first_cycle
    from readings
    group by unit_id
),

final as (
    select
        readings.*,
        {%- for f in features %}
        {%- if f.statistic == 'drift_mean' %}
        {{ rolling_mean(f.source_column, 'w' ~ f.window) }}
        - {{ rolling_mean(
            'case when readings.cycle < unit_first_cycles.first_cycle + ' ~ var('unit_baseline_cycles')
            ~ ' then readings.' ~ f.source_column ~ ' end',
            'w_unit_to_date'
        ) }}
        as {{ f.name }}
        {%- elif f.statistic == 'slope' %}
        {{ rolling_slope(f.source_column, 'cycle', 'w' ~ f.window) }} as {{ f.name }}
        {%- elif f.statistic == 'std' %}
        {{ rolling_std(f.source_column, 'w' ~ f.window) }} as {{ f.name }}
        {%- else %}
        {{ rolling_mean(f.source_column, 'w' ~ f.window) }} as {{ f.name }}
        {%- endif %}
        {{- "," if not loop.last }}
        {%- endfor %}
    from readings
    inner join unit_first_cycles
        on readings.unit_id = unit_first_cycles.unit_id
    window
        w_unit_to_date as (
            partition by readings.unit_id order by readings.cycle
            range between unbounded preceding and current row
        ),
        {%- for n in windows %}
        w{{ n }} as (
            partition by readings.unit_id order by readings.cycle
            range between {{ n - 1 }} preceding and current row
        )
        {{- "," if not loop.last }}
        {%- endfor %}
)

select * from final
