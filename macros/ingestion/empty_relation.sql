{#- A relation with these columns ({name: type}) and no rows: what a reader returns when there
    is nothing to read, so models downstream keep their shape. -#}
{% macro empty_relation(columns) -%}
    select
        {%- for name, type in columns.items() %}
        cast(null as {{ type }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    where false
{%- endmacro %}

{#- True when some file matches the glob pattern (always false at parse time). -#}
{% macro files_exist(pattern) %}
    {{ return(adapter.dispatch('files_exist', 'pdm_lakehouse')(pattern)) }}
{% endmacro %}

{% macro duckdb__files_exist(pattern) %}
    {%- if not execute -%}{{ return(false) }}{%- endif -%}
    {{ return(run_query('select count(*) from glob(' ~ sql_string(pattern) ~ ')').rows[0][0] > 0) }}
{% endmacro %}
