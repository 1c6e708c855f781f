{#-
    The ingestion manifest (the checkpoint, for analysts): one row per landing of a file version,
    what it was, what happened to it, and whether it is the version the clean tables hold.
-#}
with landed_lines as (
    select * from {{ ref('base_cmapss__landed_lines') }}
),

file_versions as (
    select
        file_version_id,
        source_file,
        file_name,
        file_kind,
        dataset,
        split,
        file_size_bytes,
        file_modified_at,
        file_content_md5,
        ingested_at,
        count(*) filter (where line_number > 0) as line_count,
        max(file_error) as file_error,
        max(duplicate_of_source_file) as duplicate_of_source_file
    from landed_lines
    group by all
),

final as (
    select
        *,
        case
            when duplicate_of_source_file = source_file then 'unchanged content: not read again'
            when duplicate_of_source_file is not null
                then 'same content as ' || duplicate_of_source_file || ': not read again'
            when file_kind = 'unrecognised' then 'quarantined: unrecognised file name'
            when file_error is not null then 'quarantined: ' || file_error
            else 'ingested'
        end as ingestion_status,
        duplicate_of_source_file is null
        and row_number() over (
            partition by source_file, duplicate_of_source_file is null
            order by ingested_at desc
        ) = 1 as is_current_version,
        min(ingested_at) over (partition by source_file) as first_ingested_at,
        max(ingested_at) over (partition by source_file) as last_ingested_at
    from file_versions
)

select * from final
