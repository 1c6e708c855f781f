{#- Incremental with the same rule as stg_cmapss__sensor_readings. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='source_file',
    )
}}

with parsed_lines as (
    select * from {{ ref('base_cmapss__rul_lines_parsed') }}
    where ingested_at > {{ incremental_watermark() }}
),

final as (
    select
        dataset,
        split,
        unit_number,
        rul_cycles,
        source_file,
        file_version_id,
        line_number,
        ingested_at
    from parsed_lines
    where rejection_reason is null
)

select * from final
