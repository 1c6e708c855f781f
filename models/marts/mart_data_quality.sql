{#-
    Data quality per landed file: for the current version of every file, how many of its lines
    were kept and how many quarantined under each rule. One row per file version and outcome
    (`accepted`, or the rule a line broke); an analyst's and CI's view of the quarantine.
    Incremental per file: a build rewrites the rows of the files landed (in a new version) since
    its watermark, the same checkpoint the staging models keep, and no other row.
-#}
{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_rows_of_files_landed_since_watermark() }}",
        post_hook="{{ advance_ingestion_watermark() }}",
    )
}}

-- depends_on: {{ ref('base_cmapss__landed_lines') }} (the increment and the pre-hook read it)

with landed_files as (
    select * from {{ ref('stg_cmapss__landed_files') }}
    where is_current_version and {{ files_landed_since_watermark_filter() }}
),

kept as (
    select
        file_version_id,
        count(*) as line_count
    from (
        select file_version_id from {{ ref('stg_cmapss__sensor_readings') }}
        union all
        select file_version_id from {{ ref('stg_cmapss__rul_truth') }}
    ) as clean_rows
    where file_version_id in (select landed_files.file_version_id from landed_files)
    group by file_version_id
),

quarantined as (
    select
        file_version_id,
        rejection_rule,
        count(*) as line_count
    from {{ ref('stg_cmapss__quarantined_lines') }}
    where file_version_id in (select landed_files.file_version_id from landed_files)
    group by file_version_id, rejection_rule
),

outcomes as (
    select
        file_version_id,
        'accepted' as outcome,
        line_count
    from kept
    union all
    select
        file_version_id,
        rejection_rule as outcome,
        line_count
    from quarantined
),

final as (
    select
        landed_files.file_version_id,
        landed_files.source_file,
        landed_files.file_name,
        landed_files.file_kind,
        landed_files.dataset,
        landed_files.split,
        landed_files.ingested_at,
        outcomes.outcome,
        outcomes.outcome != 'accepted' as is_quarantined,
        outcomes.line_count,
        cast(sum(outcomes.line_count) over (partition by landed_files.file_version_id) as bigint)
            as file_line_count,
        outcomes.line_count / cast(sum(outcomes.line_count) over (partition by landed_files.file_version_id) as double)
            as share_of_file
    from landed_files
    inner join outcomes
        on landed_files.file_version_id = outcomes.file_version_id
)

select * from final
