{#- The parser's sensor columns (macro cmapss_sensor_columns) and the features' wear-sensitive
    sensors (var degradation_sensors) agree with the catalogue seed: same names, same order,
    same degradation directions. Rows returned are disagreements. -#}
with catalogue as (
    select
        cast(substr(sensor_code, 2) as integer) as sensor_position,
        column_name,
        degradation_direction
    from {{ ref('sensors') }}
),

parser as (
    {%- for column in cmapss_sensor_columns() %}
    select {{ loop.index }} as sensor_position, '{{ column }}' as column_name
    {{- " union all" if not loop.last }}
    {%- endfor %}
),

configured as (
    {%- for sensor, direction in var('degradation_sensors').items() %}
    select '{{ sensor }}' as column_name, {{ direction }} as degradation_direction
    {{- " union all" if not loop.last }}
    {%- endfor %}
),

parser_mismatches as (
    select
        coalesce(catalogue.sensor_position, parser.sensor_position) as sensor_position,
        'parser column differs from seeds/sensors.csv' as problem
    from catalogue
    full outer join parser
        on catalogue.sensor_position = parser.sensor_position
    where catalogue.column_name is distinct from parser.column_name
),

direction_mismatches as (
    select
        catalogue.sensor_position,
        'var degradation_sensors differs from seeds/sensors.csv for ' || catalogue.column_name as problem
    from catalogue
    left join configured
        on catalogue.column_name = configured.column_name
    where coalesce(configured.degradation_direction, 0) != catalogue.degradation_direction
)

select * from parser_mismatches
union all
select * from direction_mismatches
