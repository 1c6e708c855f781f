{#-
    One row per dataset, split, unit and cycle: the supervised labels, and nothing else.
    Kept apart from the features so that the truth file can only ever reach label columns. The
    truth comes from int_rul_truth_mapped: one line per test unit, null for a whole dataset
    whose RUL file's lines do not match its test units.
      train (run to failure): failure cycle = the unit's last observed cycle
      test (truncated):       failure cycle = last observed cycle + RUL truth of that unit
    (Taking the test file's own last cycle as the failure, as the reference notebooks did,
    labels every test unit as failing at its last reading: wrong.)
    rul = failure cycle - cycle; rul_capped = least(rul, rul_cap_cycles);
    fails_within_30_cycles = rul <= failure_horizon_cycles. A test unit with no (trusted) truth
    has null labels rather than invented ones.
    A view: fct_unit_cycle_features reads it for the units a build changed (the unit filter reaches
    the readings), so labels are computed once, per changed unit.
-#}
{{ config(materialized='view') }}

-- depends_on: {{ ref('int_unit_change_log') }} (so its data tests, scoped to this build's changed units, see them)

with readings as (
    select
        unit_id,
        dataset,
        split,
        unit_number,
        cycle
    from {{ ref('int_sensor_readings_deduplicated') }}
),

rul_truth as (
    select * from {{ ref('int_rul_truth_mapped') }}
),

latest_truth as (
    -- int_rul_truth_mapped already holds one row per dataset and unit, from one file, with
    -- rul_cycles null when the line-to-unit mapping cannot be trusted; truth is for test units
    select
        'test' as split,
        dataset,
        unit_number,
        rul_cycles,
        1 as truth_rank
    from rul_truth
),

units as (
    select
        unit_id,
        max(cycle) as last_observed_cycle
    from readings
    group by unit_id
),

failure_cycles as (
    select
        readings.*,
        units.last_observed_cycle,
        case readings.split
            when 'train' then units.last_observed_cycle
            when 'test' then units.last_observed_cycle + latest_truth.rul_cycles
        end as failure_cycle
    from readings
    inner join units
        on readings.unit_id = units.unit_id
    -- equalities only, so a hash join: `readings.split = 'test'` in the condition made DuckDB
    -- compare every reading with every truth row (a nested loop: 73 s of a 1 M-reading batch at 20 M)
    left join latest_truth
        on readings.split = latest_truth.split
        and readings.dataset = latest_truth.dataset
        and readings.unit_number = latest_truth.unit_number
        and latest_truth.truth_rank = 1
),

rul as (
    select
        *,
        failure_cycle - cycle as rul
    from failure_cycles
),

final as (
    select
        unit_id,
        dataset,
        split,
        unit_number,
        cycle,
        last_observed_cycle,
        cycle = last_observed_cycle as is_last_observed_cycle,
        failure_cycle,
        rul,
        -- not least(rul, cap): least() skips nulls, and an unknown rul must stay unknown
        case when rul > {{ var('rul_cap_cycles') }} then {{ var('rul_cap_cycles') }} else rul end as rul_capped,
        rul <= {{ var('failure_horizon_cycles') }} as fails_within_30_cycles
    from rul
)

select * from final
