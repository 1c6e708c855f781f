{#-
    The checkpoint of the staging increments. Each staging model that reads bronze keeps, in
    bronze.ingestion_watermarks, how far through bronze it has processed (the newest ingested_at
    that existed when it last ran), and takes `where ingested_at > {{ incremental_watermark() }}`.
    The watermark advances in the same transaction as the model's own writes (post-hook), and it
    advances even when a batch adds no row to the model (a quarantine with nothing to quarantine),
    so no model re-reads history. A full refresh, or no recorded watermark, starts from the start.
-#}
{% macro create_ingestion_watermarks() %}
    create schema if not exists bronze;
    create table if not exists bronze.ingestion_watermarks (
        model_name varchar primary key,
        processed_through timestamp not null,
        updated_at timestamp not null
    )
{% endmacro %}

{% macro incremental_watermark() -%}
    {%- if is_incremental() -%}
        (
            select coalesce(max(processed_through), cast('-infinity' as timestamp))
            from bronze.ingestion_watermarks
            where model_name = '{{ this.identifier }}'
        )
    {%- else -%}
        cast('-infinity' as timestamp)
    {%- endif -%}
{%- endmacro %}

{% macro advance_ingestion_watermark() %}
    insert or replace into bronze.ingestion_watermarks (model_name, processed_through, updated_at)
    select
        '{{ this.identifier }}',
        coalesce(max(ingested_at), cast('-infinity' as timestamp)),
        {{ ingestion_timestamp() }}
    from {{ ref('base_cmapss__landed_lines') }}
{% endmacro %}
