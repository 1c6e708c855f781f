{#-
    Bronze, raw: every line of every file version landed, as text, with where it came from.
    This is the ingestion checkpoint: each build lists the landing folder, reads only the file
    versions (path, size, modification time) not yet here, and appends their lines. Nothing is
    ever updated or deleted, so a corrected file's earlier version stays here for audit;
    the staging models above it take the newest version of each file.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
    )
}}

-- depends_on: {{ source('cmapss', 'sensor_files') }}
-- depends_on: {{ source('cmapss', 'rul_files') }}

{%- set listed = list_landed_files(var('landing_path')) %}
{%- set new_files = files_not_yet_ingested(listed, this if is_incremental() else none) %}
{%- if execute %}
    {{ log('Landing folder: ' ~ listed | length ~ ' files, ' ~ new_files | length ~ ' new or changed', info=true) }}
{%- endif %}

with landed_lines as (
    {{ read_landed_lines(new_files) }}
),

classified as (
    select
        *,
        regexp_extract(source_file, '[^/\\]+$') as file_name
    from landed_lines
),

final as (
    select
        md5(concat_ws('|', source_file, cast(file_size_bytes as varchar), cast(file_modified_at as varchar)))
            as file_version_id,
        source_file,
        file_name,
        case regexp_extract(file_name, '{{ cmapss_file_name_regex() }}', 1)
            when 'train' then 'sensor_readings'
            when 'test' then 'sensor_readings'
            when 'RUL' then 'rul_truth'
            else 'unrecognised'
        end as file_kind,
        nullif(regexp_extract(file_name, '{{ cmapss_file_name_regex() }}', 2), '') as dataset,
        case regexp_extract(file_name, '{{ cmapss_file_name_regex() }}', 1)
            when 'train' then 'train'
            when 'test' then 'test'
            when 'RUL' then 'test'
        end as split,
        file_size_bytes,
        file_modified_at,
        file_content_md5,
        line_number,
        raw_line,
        file_error,
        {{ ingestion_timestamp() }} as ingested_at
    from classified
)

select * from final
