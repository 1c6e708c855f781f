{#-
    Expectation "warn": each dataset's RUL file has one line per test unit (line i = test unit i).
    When the counts differ, the line-to-unit mapping cannot be trusted (a line missing or added
    in the middle shifts every later unit onto its neighbour's truth), so int_rul_truth_mapped
    gives none of the dataset's test units a truth and their labels are null. Also warned: test
    units with no RUL file at all (null labels), and a dataset with more than one RUL file (only
    the newest landed is read). Rows returned (stored in dbt_test__audit) name the dataset, the
    file, both counts and what the build did. Checked for the datasets whose truth this build
    digests (a RUL file landed, or a test unit named, since int_unit_context_hashes last ran;
    every dataset after a full refresh): the other datasets' mappings did not change. Every test
    unit left without truth is named on every build by dim_units' test test_units_have_rul_truth.
-#}
{{ config(severity='warn', store_failures=true) }}
{%- set touched_datasets = expand_unit_scope('__rul_datasets_digested_by_int_unit_context_hashes__') %}

with mapped_truth as (
    select * from {{ ref('int_rul_truth_mapped') }}
    where {{ touched_datasets }}
),

rul_truth as (
    select * from {{ ref('stg_cmapss__rul_truth') }}
    where {{ touched_datasets }}
),

readings as (
    select * from {{ ref('int_sensor_readings_deduplicated') }}
    where split = 'test' and {{ touched_datasets }}
),

test_units as (
    select
        dataset,
        count(distinct unit_number) as test_unit_count
    from readings
    group by dataset
),

used_files as (
    select distinct
        dataset,
        source_file,
        truth_line_count,
        test_unit_count,
        is_mapping_trusted
    from mapped_truth
),

other_files as (
    select
        rul_truth.dataset,
        {{ string_agg_ordered('distinct rul_truth.source_file', "', '", 'rul_truth.source_file') }}
            as ignored_files
    from rul_truth
    inner join used_files
        on rul_truth.dataset = used_files.dataset
        and rul_truth.source_file != used_files.source_file
    group by rul_truth.dataset
),

untrusted as (
    select
        dataset,
        source_file,
        truth_line_count,
        test_unit_count,
        source_file || ' has ' || truth_line_count || ' lines but ' || dataset || ' has '
        || test_unit_count || ' test units (numbered 1..' || test_unit_count || ' expected): '
        || 'the line-to-unit mapping cannot be trusted, so no test unit of ' || dataset
        || ' gets a RUL truth and their labels are null' as failure_message
    from used_files
    where not is_mapping_trusted
),

without_file as (
    select
        test_units.dataset,
        cast(null as string) as source_file,
        0 as truth_line_count,
        test_units.test_unit_count,
        test_units.dataset || ' has ' || test_units.test_unit_count
        || ' test units but no RUL file: their labels are null' as failure_message
    from test_units
    left join used_files
        on test_units.dataset = used_files.dataset
    where used_files.dataset is null
),

two_files as (
    select
        used_files.dataset,
        used_files.source_file,
        used_files.truth_line_count,
        used_files.test_unit_count,
        used_files.dataset || ' has more than one RUL file: ' || used_files.source_file
        || ' (landed last) is used, ' || other_files.ignored_files || ' ignored' as failure_message
    from used_files
    inner join other_files
        on used_files.dataset = other_files.dataset
),

final as (
    select * from untrusted
    union all
    select * from without_file
    union all
    select * from two_files
)

select * from final
