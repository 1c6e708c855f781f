{#- A Jinja string as a SQL string literal: file names may hold quotes, spaces or semicolons. -#}
{% macro sql_string(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}
