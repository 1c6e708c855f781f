{#- A whole row of a relation (by its alias in the query) as one text value: what a digest of the row
    is taken over. -#}
{% macro row_as_text(alias) %}
    {{ return(adapter.dispatch('row_as_text', 'pdm_lakehouse')(alias)) }}
{% endmacro %}

{% macro duckdb__row_as_text(alias) -%}
    cast({{ alias }} as varchar)
{%- endmacro %}

{#- Spark: the row as JSON. The digests are compared only with digests taken on the same engine. -#}
{% macro spark__row_as_text(alias) -%}
    to_json(struct({{ alias }}.*))
{%- endmacro %}
