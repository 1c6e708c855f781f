{#- One timestamp per dbt invocation: every row a build ingests carries the same value, so a
    model downstream can take "everything newer than what I hold" as its increment. -#}
{% macro ingestion_timestamp() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
{%- endmacro %}
