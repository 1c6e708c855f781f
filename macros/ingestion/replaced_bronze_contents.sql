{#-
    When bronze first took in each content, as the bronze table a rebuild replaces holds it
    (`replaced`: table_being_replaced, macros/ingestion/replaced_table.sql): one row per file version
    there (its line_number 0 or 1 row) with file_class (landed_file_class), source_file,
    file_content_md5, content_ingested_at (its ingested_at in a table built before the column) and
    is_current_version (is_current_file_version). base_cmapss__landed_lines reads it whenever it rebuilds
    bronze from the landing folder (a full refresh; every build on Spark), so the rebuild keeps when each
    content first came in and silver ranks duplicated readings as the incremental builds did. The
    columns are those of `replaced`; the rows are read where the rebuild finds that table once the
    pre-hooks have run (replaced_table_read_as: on Spark it is moved aside first).
-#}
{% macro replaced_bronze_contents(replaced) -%}
    {%- set columns = adapter.get_columns_in_relation(replaced) | map(attribute='name') | list -%}
    select
        {{ landed_file_class('source_file') }} as file_class,
        source_file,
        file_content_md5,
        {{ 'coalesce(content_ingested_at, ingested_at)' if 'content_ingested_at' in columns
            else 'ingested_at' }} as content_ingested_at,
        {{ is_current_file_version('file_error is null') }} as is_current_version
    from {{ replaced_table_read_as() }}
    where line_number <= 1
{%- endmacro %}
