{#-
    One row per landed file version: its file facts and line counts, summed from bronze's raw
    lines once, when the version lands (a version's lines all land in one build, with one
    ingested_at), so the ingestion manifest (stg_cmapss__landed_files) never re-reads every line
    of history. Append-only: a landed version's counts do not change (lines pruned later by
    `make optimize` retention still count here: this is what landed).
-#}
{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='append',
        on_schema_change='append_new_columns',
    )
}}

with landed_lines as (
    select * from {{ ref('base_cmapss__landed_lines') }}
    {%- if is_incremental() %}
    where ingested_at > (select coalesce(max(ingested_at), cast('-infinity' as timestamp)) from {{ this }})
    {%- endif %}
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
        count(*) filter (where line_error is not null) as unreadable_line_count,
        max(file_error) as file_error,
        max(duplicate_of_source_file) as duplicate_of_source_file,
        content_ingested_at
    from landed_lines
    group by all
)

select * from file_versions
