{#-
    Expectation "warn": a RUL file has one line per unit of its test file. A test unit without a
    truth line gets null labels (it is kept, and left out of evaluation); a truth line without a
    test unit is unused. Rows returned name the dataset and the counts.
-#}
{{ config(severity='warn', store_failures=true) }}

with test_units as (
    select
        dataset,
        count(distinct unit_number) as test_units
    from {{ ref('stg_cmapss__sensor_readings') }}
    where split = 'test'
    group by dataset
),

truth_lines as (
    select
        dataset,
        count(distinct unit_number) as truth_lines
    from {{ ref('stg_cmapss__rul_truth') }}
    group by dataset
),

compared as (
    select
        coalesce(test_units.dataset, truth_lines.dataset) as dataset,
        coalesce(test_units.test_units, 0) as test_units,
        coalesce(truth_lines.truth_lines, 0) as truth_lines
    from test_units
    full outer join truth_lines
        on test_units.dataset = truth_lines.dataset
)

select * from compared
where test_units != truth_lines
