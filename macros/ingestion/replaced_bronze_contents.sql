{#-
    When bronze first took in each content, as the bronze table a rebuild replaces holds it: one row per
    file version there (its line_number 0 or 1 row) with file_class (landed_file_class), source_file,
    file_content_md5, content_ingested_at (its ingested_at in a table built before the column) and
    is_current_version (is_current_file_version). base_cmapss__landed_lines reads it whenever it rebuilds
    bronze from the landing folder (a full refresh; every build on Spark), so the rebuild keeps when each
    content first came in and silver ranks duplicated readings as the incremental builds did.
    - DuckDB: a select over the table itself, which is still there while the full refresh's select runs.
    - Spark: dbt-spark drops a parquet table before it creates it again, so bronze's pre-hook
      (keep_replaced_bronze_contents, below) first copies these rows to a table beside bronze
      (`<bronze>__replaced_contents`), which this reads and bronze's post-hook drops.
    None when nothing is replaced: a first build (no table yet), an incremental build.
-#}
{% macro replaced_bronze_contents() %}
    {{ return(adapter.dispatch('replaced_bronze_contents', 'pdm_lakehouse')()) }}
{% endmacro %}

{% macro default__replaced_bronze_contents() %}
    {%- set replaced = load_relation(this) if execute and not is_incremental() else none -%}
    {{ return(bronze_contents_query(replaced) if replaced is not none else none) }}
{% endmacro %}

{% macro spark__replaced_bronze_contents() %}
    {%- if not execute or load_relation(this) is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return('select * from ' ~ replaced_bronze_contents_relation()) }}
{% endmacro %}

{#- The select of those rows from a bronze table (`landed_lines`). -#}
{% macro bronze_contents_query(landed_lines) -%}
    {%- set columns = adapter.get_columns_in_relation(landed_lines) | map(attribute='name') | list -%}
    select
        {{ landed_file_class('source_file') }} as file_class,
        source_file,
        file_content_md5,
        {{ 'coalesce(content_ingested_at, ingested_at)' if 'content_ingested_at' in columns
            else 'ingested_at' }} as content_ingested_at,
        {{ is_current_file_version('file_error is null') }} as is_current_version
    from {{ landed_lines }}
    where line_number <= 1
{%- endmacro %}

{#- Spark: the table the pre-hook copies them to. -#}
{% macro replaced_bronze_contents_relation() %}
    {{ return(api.Relation.create(
        database=this.database, schema=this.schema, identifier=this.identifier ~ '__replaced_contents', type='table'
    )) }}
{% endmacro %}

{#- Pre-hook of bronze: on Spark, the copy above, of the table about to be dropped (none on a first
    build; one left by a build that stopped is replaced), in the project's table format (the var
    file_format); nothing on DuckDB. -#}
{% macro keep_replaced_bronze_contents() %}
    {{ return(adapter.dispatch('keep_replaced_bronze_contents', 'pdm_lakehouse')()) }}
{% endmacro %}

{% macro default__keep_replaced_bronze_contents() %}{{ return('') }}{% endmacro %}

{% macro spark__keep_replaced_bronze_contents() %}
    {%- if execute -%}
        {%- set copy = replaced_bronze_contents_relation() -%}
        {%- do run_query('drop table if exists ' ~ copy) -%}
        {%- set replaced = load_relation(this) -%}
        {%- if replaced is not none -%}
            {%- do run_query('create table ' ~ copy ~ ' using ' ~ var('file_format', 'parquet') ~ ' as '
                ~ bronze_contents_query(replaced)) -%}
        {%- endif -%}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}

{#- Post-hook of bronze: on Spark, the copy is dropped once bronze is rebuilt; nothing on DuckDB. -#}
{% macro drop_replaced_bronze_contents() %}
    {{ return(adapter.dispatch('drop_replaced_bronze_contents', 'pdm_lakehouse')()) }}
{% endmacro %}

{% macro default__drop_replaced_bronze_contents() %}{{ return('') }}{% endmacro %}

{% macro spark__drop_replaced_bronze_contents() %}
    {%- if execute -%}
        {%- do run_query('drop table if exists ' ~ replaced_bronze_contents_relation()) -%}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}
