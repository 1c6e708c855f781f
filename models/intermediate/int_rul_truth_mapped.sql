{#-
    One row per dataset and test unit: the true remaining useful life after the unit's last test
    cycle, taken from line i of the dataset's RUL file for test unit i, and only when that
    mapping can be trusted.

    Which file: the newest landed RUL file of the dataset with at least one usable line (newest
    content_ingested_at, the build that first took in its content, kept through a full refresh;
    among files read in one build, the one modified last, then the name that sorts last:
    macros/ingestion/latest_landing_first.sql), read whole: lines of two RUL files of one
    dataset (a file landed under two names) are never mixed. A corrected file (same name, new
    content) has already replaced its earlier version in stg_cmapss__rul_truth.

    When the mapping is trusted: the file has exactly one line per test unit, i.e. its line count
    (up to its last non-blank line, quarantined lines included: they keep their place) equals
    the number of the dataset's test units, and those are numbered 1..N. Otherwise one line
    missing or added in the middle shifts every later unit onto its neighbour's truth, and no
    line says which: rul_cycles is null for every unit of the dataset (is_mapping_trusted false),
    so its test labels are null, and tests/warn_rul_truth_matches_test_units.sql names the
    dataset, the file and both counts.
    A test unit erased with `make erase` still counts as one of the dataset's test units, and its
    line (erased in bronze) as one of the file's lines, so erasing unit i leaves every other unit
    on its own line; the erased unit has no row.
    A view, computed where it is read (the labels, per changed unit; the truth digests and dim_units,
    for the datasets a build touched): a filter on dataset reaches every scan below (the test
    units' readings, the RUL lines), so a reader pays for the datasets it asks for, not the fleet.
-#}
{{ config(materialized='view') }}

with rul_truth as (
    select * from {{ ref('stg_cmapss__rul_truth') }}
),

quarantined_lines as (
    select * from {{ ref('stg_cmapss__quarantined_lines') }}
    where file_kind = 'rul_truth'
),

readings as (
    -- the test units, not their readings; read once below (DuckDB materialises a CTE read twice,
    -- whole, before a reader's filter on dataset can reach it)
    select distinct
        dataset,
        unit_number
    from {{ ref('int_sensor_readings_deduplicated') }}
    where split = 'test'
),

erased_test_units as (
    select * from {{ ref('stg_erasures__erased_units') }}
    where split = 'test'
),

erased_truth_lines as (
    select
        file_version_id,
        max(line_number) as last_erased_line_number
    from {{ ref('base_cmapss__landed_lines') }}
    where file_kind = 'rul_truth' and erased_at is not null
    group by file_version_id
),

file_versions as (
    select
        file_version_id,
        content_ingested_at,
        file_modified_at
    from {{ ref('base_cmapss__landed_file_versions') }}
),

truth_files as (
    select
        dataset,
        source_file,
        file_version_id,
        ingested_at,
        max(line_number) as last_kept_line_number
    from rul_truth
    group by dataset, source_file, file_version_id, ingested_at
),

ranked_files as (
    select
        truth_files.*,
        row_number() over (
            partition by truth_files.dataset
            order by {{ latest_landing_first('truth_files', 'file_versions') }}
        ) as file_rank
    from truth_files
    left join file_versions
        on truth_files.file_version_id = file_versions.file_version_id
),

chosen_files as (
    select
        ranked_files.dataset,
        ranked_files.source_file,
        ranked_files.file_version_id,
        greatest(
            ranked_files.last_kept_line_number,
            coalesce(max(quarantined_lines.line_number), 0),
            coalesce(max(erased_truth_lines.last_erased_line_number), 0)
        ) as truth_line_count
    from ranked_files
    left join quarantined_lines
        on ranked_files.file_version_id = quarantined_lines.file_version_id
        and quarantined_lines.rejection_rule != 'blank_line'
    left join erased_truth_lines
        on ranked_files.file_version_id = erased_truth_lines.file_version_id
    where ranked_files.file_rank = 1
    group by ranked_files.dataset, ranked_files.source_file, ranked_files.file_version_id,
        ranked_files.last_kept_line_number
),

test_unit_numbers as (
    select
        dataset,
        unit_number,
        true as has_readings
    from readings
    union all
    select
        dataset,
        unit_number,
        false as has_readings
    from erased_test_units
),

test_units as (
    -- a dataset with test readings: its test units with readings and those erased
    select
        dataset,
        count(distinct unit_number) as test_unit_count,
        max(unit_number) as highest_test_unit_number
    from test_unit_numbers
    group by dataset
    having bool_or(has_readings)
),

checked_files as (
    select
        chosen_files.*,
        coalesce(test_units.test_unit_count, 0) as test_unit_count,
        coalesce(
            chosen_files.truth_line_count = test_units.test_unit_count
            and test_units.highest_test_unit_number = test_units.test_unit_count,
            false
        ) as is_mapping_trusted
    from chosen_files
    left join test_units
        on chosen_files.dataset = test_units.dataset
),

final as (
    select
        rul_truth.dataset,
        rul_truth.unit_number,
        case when checked_files.is_mapping_trusted then rul_truth.rul_cycles end as rul_cycles,
        rul_truth.rul_cycles as rul_cycles_on_line,
        rul_truth.source_file,
        rul_truth.file_version_id,
        rul_truth.line_number,
        checked_files.truth_line_count,
        checked_files.test_unit_count,
        checked_files.is_mapping_trusted
    from rul_truth
    -- the dataset too (a file version is one dataset's), so a filter on dataset reaches both sides
    inner join checked_files
        on rul_truth.dataset = checked_files.dataset
        and rul_truth.file_version_id = checked_files.file_version_id
)

select * from final
