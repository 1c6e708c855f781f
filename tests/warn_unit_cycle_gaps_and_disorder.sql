{#-
    Expectation "warn": a unit's cycles should run 1, 2, 3, … without gaps, and lines of a file
    should come in cycle order. Neither loses data (readings are keyed and ordered by cycle, and
    rolling windows span cycles, not rows), so the build only warns; the rows returned name
    file, line and unit. Checked for the units this build rewrote in silver and the files it
    ingested (every unit and file after a full refresh).
-#}
{{ config(severity='warn', store_failures=true) }}

with readings as (
    select * from {{ ref('stg_cmapss__sensor_readings') }}
    where {{ expand_unit_scope('__files_ingested_by_this_build__') }}
),

deduplicated as (
    select * from {{ ref('int_sensor_readings_deduplicated') }}
    where {{ expand_unit_scope('__units_rebuilt_by_int_sensor_readings_deduplicated__') }}
),

gaps as (
    select
        unit_id,
        source_file,
        line_number,
        cycle,
        'cycle gap: previous cycle is ' || coalesce(cast(previous_cycle as string), 'none') as problem
    from (
        select
            *,
            lag(cycle) over (partition by unit_id order by cycle) as previous_cycle
        from deduplicated
    ) as with_previous
    where cycle != coalesce(previous_cycle, 0) + 1
),

disorder as (
    select
        {{ unit_id('dataset', 'split', 'unit_number') }} as unit_id,
        source_file,
        line_number,
        cycle,
        'out of order: follows cycle ' || previous_cycle || ' in the file' as problem
    from (
        select
            *,
            lag(cycle) over (
                partition by source_file, dataset, split, unit_number order by line_number
            ) as previous_cycle
        from readings
    ) as with_previous
    where cycle < previous_cycle
)

select * from gaps
union all
select * from disorder
