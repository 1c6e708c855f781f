{#-
    One row per dataset, split, unit and cycle. When a cycle was landed more than once (the same
    reading in a later delivery, or a file landed under a second name), the latest landed wins:
    newest ingested_at, then the file name that sorts last, then the last line in that file.
-#}
with readings as (
    select * from {{ ref('stg_cmapss__sensor_readings') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by dataset, split, unit_number, cycle
            order by ingested_at desc, source_file desc, line_number desc
        ) as landing_rank,
        count(*) over (partition by dataset, split, unit_number, cycle) as times_landed
    from readings
),

final as (
    select
        {{ unit_id('dataset', 'split', 'unit_number') }} as unit_id,
        dataset,
        split,
        unit_number,
        cycle,
        {%- for column in cmapss_setting_columns() + cmapss_sensor_columns() %}
        {{ column }},
        {%- endfor %}
        times_landed,
        source_file,
        line_number,
        ingested_at
    from ranked
    where landing_rank = 1
)

select * from final
