{#-
    Reconciliation (nothing silently lost, nothing doubled): for the current version of every
    landed file, lines landed = rows kept in the clean bronze tables + rows quarantined + lines
    erased (the lines of units erased with `make erase`: base_cmapss__landed_lines.erased_at); and
    no clean or quarantined row comes from a version that is no longer current.
    Rows returned are the file versions that do not add up. Checked for the files this build
    ingested (the only ones whose rows a build adds or removes); every file after a full refresh.
-#}
{{ config(store_failures=true) }}

with current_versions as (
    select
        file_version_id,
        source_file
    from {{ ref('stg_cmapss__landed_files') }}
    where is_current_version and {{ expand_unit_scope('__files_ingested_by_this_build__') }}
),

files_in_scope as (
    select distinct source_file from current_versions
),

landed as (
    select
        landed_lines.file_version_id,
        count(*) as lines_landed,
        count(*) filter (where landed_lines.erased_at is not null) as lines_erased
    from {{ ref('base_cmapss__landed_lines') }} as landed_lines
    inner join current_versions
        on landed_lines.file_version_id = current_versions.file_version_id
    group by landed_lines.file_version_id
),

kept as (
    select
        file_version_id,
        count(*) as rows_kept
    from (
        select
            file_version_id,
            source_file
        from {{ ref('stg_cmapss__sensor_readings') }}
        union all
        select
            file_version_id,
            source_file
        from {{ ref('stg_cmapss__rul_truth') }}
    ) as clean_rows
    where source_file in (select files_in_scope.source_file from files_in_scope)
    group by file_version_id
),

quarantined as (
    select
        file_version_id,
        count(*) as rows_quarantined
    from {{ ref('stg_cmapss__quarantined_lines') }}
    where source_file in (select files_in_scope.source_file from files_in_scope)
    group by file_version_id
),

reconciled as (
    select
        coalesce(landed.file_version_id, kept.file_version_id, quarantined.file_version_id) as file_version_id,
        coalesce(landed.lines_landed, 0) as lines_landed,
        coalesce(kept.rows_kept, 0) as rows_kept,
        coalesce(quarantined.rows_quarantined, 0) as rows_quarantined,
        coalesce(landed.lines_erased, 0) as lines_erased
    from landed
    full outer join kept
        on landed.file_version_id = kept.file_version_id
    full outer join quarantined
        on coalesce(landed.file_version_id, kept.file_version_id) = quarantined.file_version_id
)

select
    reconciled.*,
    current_versions.source_file
from reconciled
left join current_versions
    on reconciled.file_version_id = current_versions.file_version_id
where reconciled.lines_landed != reconciled.rows_kept + reconciled.rows_quarantined + reconciled.lines_erased
