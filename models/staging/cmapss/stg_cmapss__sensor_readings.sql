{#-
    Incremental: each build takes the good lines of base_cmapss__sensor_lines_parsed (the batch
    parsed once for this model and the quarantine, through sensor_lines_to_process) ingested
    after this model's watermark in bronze.ingestion_watermarks. The post-hook advances the
    watermark to the newest ingested_at in bronze, in the same transaction as the model's
    writes and even when the batch adds no row, so a run that died half-way is caught up by the
    next and no run re-reads history. A file landed again with new content replaces all of that
    file's earlier rows (pre-hook, then delete+insert on source_file): the newest version of a
    file is the only one here. A newer version unreadable as a whole (binary, another encoding,
    empty) of a file that had a readable version replaces nothing: the earlier rows stay
    (rejected_file_versions).
-#}
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
-- depends_on: {{ ref('base_cmapss__sensor_lines_parsed') }} (the parsed batch, through sensor_lines_to_process)

with parsed_lines as (
    {{ newest_landings_since_watermark(sensor_lines_to_process()) }}
),

final as (
    select
        dataset,
        split,
        unit_number,
        cycle,
        {%- for column in cmapss_setting_columns() + cmapss_sensor_columns() %}
        {{ column }},
        {%- endfor %}
        extra_values,
        source_file,
        file_version_id,
        line_number,
        ingested_at
    from parsed_lines
    where rejection_rule is null
)

select * from final
