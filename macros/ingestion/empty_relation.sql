{#- A relation with these columns ({name: type}) and no rows: what a reader returns when there
    is nothing to read, so models downstream keep their shape. A `varchar` column is cast as
    `string`, its name on Spark and an alias of varchar in DuckDB. -#}
{% macro empty_relation(columns) -%}
    select
        {%- for name, type in columns.items() %}
        cast(null as {{ 'string' if type == 'varchar' else type }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    where false
{%- endmacro %}

{#- A relation with these columns ({name: type}) and these rows (each a list of SQL literals, in
    the columns' order): literal values a macro listed (files, states), as a relation, each cast to
    its type; no rows: empty_relation. -#}
{% macro literal_relation(columns, rows) -%}
    {%- if rows | length == 0 -%}
    {{ empty_relation(columns) }}
    {%- else -%}
    select
        {%- for name, type in columns.items() %}
        cast({{ name }} as {{ 'string' if type == 'varchar' else type }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    from (
        values
        {%- for row in rows %}
        ({{ row | join(', ') }}){{ "," if not loop.last }}
        {%- endfor %}
    ) as literal_rows ({{ columns.keys() | join(', ') }})
    {%- endif -%}
{%- endmacro %}

{#- True when some file matches the glob pattern (always false at parse time). -#}
{% macro files_exist(pattern) %}
    {{ return(adapter.dispatch('files_exist', 'pdm_lakehouse')(pattern)) }}
{% endmacro %}

{% macro duckdb__files_exist(pattern) %}
    {%- if not execute -%}{{ return(false) }}{%- endif -%}
    {{ return(run_query('select count(*) from glob(' ~ sql_string(pattern) ~ ')').rows[0][0] > 0) }}
{% endmacro %}

{#- Spark: the glob's last path segment matched in its folder (spark_files_table). -#}
{% macro spark__files_exist(pattern) %}
    {%- if not execute -%}{{ return(false) }}{%- endif -%}
    {%- set folder = pattern.split('/')[:-1] | join('/') -%}
    {%- set files = spark_files_table('files_exist', folder, pattern.split('/') | last) -%}
    {{ return(run_query('select count(*) from ' ~ files ~ " where not contains("
        ~ spark_path_below('path', folder) ~ ", '/')").rows[0][0] > 0) }}
{% endmacro %}
