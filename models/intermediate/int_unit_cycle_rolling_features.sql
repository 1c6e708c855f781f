{#-
    One row per dataset, split, unit and cycle: rolling statistics of each wear-sensitive sensor's
    regime-normalised value (and of the degradation index) over the unit's last N cycles, the
    current one included (var feature_windows). Windows are ranges of cycles, not of rows, so a
    missing cycle shortens a window instead of stretching it. Every value uses only that unit's
    readings up to that cycle: nothing from the future, nothing from labels.
    std and slope are null until the window holds two readings.
-#}
{%- set features = rolling_feature_columns() %}
{%- set windows = features | map(attribute='window') | unique | sort %}
{%- set aggregate = {'mean': 'avg', 'std': 'stddev_samp'} %}

with readings as (
    select * from {{ ref('int_sensor_readings_normalised') }}
),

final as (
    select
        unit_id,
        dataset,
        split,
        unit_number,
        cycle,
        {%- for f in features %}
        {%- if f.statistic == 'slope' %}
        {{ rolling_slope(f.source_column, 'cycle', 'w' ~ f.window) }} as {{ f.name }}
        {%- else %}
        {{ aggregate[f.statistic] }}({{ f.source_column }}) over w{{ f.window }} as {{ f.name }}
        {%- endif %}
        {{- "," if not loop.last }}
        {%- endfor %}
    from readings
    window
        {%- for n in windows %}
        w{{ n }} as (partition by unit_id order by cycle range between {{ n - 1 }} preceding and current row)
        {{- "," if not loop.last }}
        {%- endfor %}
)

select * from final
