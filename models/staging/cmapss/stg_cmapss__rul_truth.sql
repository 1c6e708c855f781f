{#- Incremental with the same rule as stg_cmapss__sensor_readings. -#}
{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key='source_file',
        on_schema_change='append_new_columns',
        pre_hook="{{ delete_rows_of_relanded_files() }}",
        post_hook="{{ advance_ingestion_watermark() }}",
    )
}}

-- depends_on: {{ ref('base_cmapss__landed_lines') }} (the pre-hook reads it)

with parsed_lines as (
    {{ newest_landings_since_watermark(ref('base_cmapss__rul_lines_parsed')) }}
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
    where rejection_rule is null
)

select * from final
