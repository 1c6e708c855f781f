{#-
    The checkpoint of the staging increments. Each staging model that reads bronze keeps, in
    bronze.ingestion_watermarks, how far through bronze it has processed (the newest ingested_at
    that existed when it last ran), and takes `where ingested_at > {{ incremental_watermark() }}`.
    The watermark advances in the same transaction as the model's own writes (post-hook), and it
    advances even when a batch adds no row to the model (a quarantine with nothing to quarantine),
    so no model re-reads history. A full refresh, or no recorded watermark, starts from the start.
-#}
{% macro create_ingestion_watermarks() %}
    {{ return(adapter.dispatch('create_ingestion_watermarks', 'pdm_lakehouse')()) }}
{% endmacro %}

{#- Spark: the same table, as parquet (no key constraints), created here (one statement per call);
    it stays empty there: every build rebuilds the increments whole (rebuilds_incrementals_whole),
    so no watermark is advanced. -#}
{% macro spark__create_ingestion_watermarks() %}
    {%- if execute -%}
        {%- do run_query('create schema if not exists bronze') -%}
        {%- do run_query('create table if not exists bronze.ingestion_watermarks (model_name string, '
            ~ 'processed_through timestamp, updated_at timestamp) using parquet') -%}
    {%- endif -%}
{% endmacro %}

{% macro default__create_ingestion_watermarks() %}
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
            select coalesce(max(processed_through), {{ timestamp_before_all() }})
            from bronze.ingestion_watermarks
            where model_name = '{{ this.identifier }}'
        )
    {%- else -%}
        {{ timestamp_before_all() }}
    {%- endif -%}
{%- endmacro %}

{% macro advance_ingestion_watermark() %}
    {{ return(adapter.dispatch('advance_ingestion_watermark', 'pdm_lakehouse')()) }}
{% endmacro %}

{#- Spark: nothing to advance (every build there reads bronze whole); renders no statement. -#}
{% macro spark__advance_ingestion_watermark() %}{% endmacro %}

{% macro default__advance_ingestion_watermark() %}
    insert or replace into bronze.ingestion_watermarks (model_name, processed_through, updated_at)
    select
        '{{ this.identifier }}',
        coalesce(max(ingested_at), cast('-infinity' as timestamp)),
        {{ ingestion_timestamp() }}
    from {{ ref('base_cmapss__landed_lines') }}
{% endmacro %}
