{#- The ingestion manifest: one row per landed file version, what it was and where its lines went. -#}
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
        max(file_error) as file_error
    from landed_lines
    group by all
),

final as (
    select
        *,
        row_number() over (partition by source_file order by ingested_at desc) = 1 as is_current_version
    from file_versions
)

select * from final
