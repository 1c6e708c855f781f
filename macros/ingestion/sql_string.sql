{#- A Jinja string as a SQL string literal: file names may hold quotes, spaces or semicolons. -#}
{% macro sql_string(value) -%}
    {{ return(adapter.dispatch('sql_string', 'pdm_lakehouse')(value)) }}
{%- endmacro %}

{% macro default__sql_string(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}

{#- Spark: string literals are raw there (profiles.yml: spark.sql.parser.escapedStringLiterals), so a
    quote can't be doubled or escaped inside one: it is spliced in as chr(39). -#}
{% macro spark__sql_string(value) -%}
    {%- if "'" in value | string -%}
        concat('{{ (value | string).split("'") | join("', chr(39), '") }}')
    {%- else -%}
        '{{ value }}'
    {%- endif -%}
{%- endmacro %}

{#- dbt's escape_single_quotes, which writes unit-test fixtures inside a '...' literal: on Spark (raw
    literals) a quote closes the literal and is concatenated back as chr(39). -#}
{% macro spark__escape_single_quotes(expression) -%}
    {{ expression | replace("'", "' || chr(39) || '") }}
{%- endmacro %}
