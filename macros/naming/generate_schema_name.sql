{#- Layers are schemas named as they are (bronze, silver, gold, snapshots, reference), so an
    analyst writes `gold.mart_fleet_health`, not `main_gold.mart_fleet_health`. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
