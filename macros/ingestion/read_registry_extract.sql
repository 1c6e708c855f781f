{#-
    The equipment registry extract (CSV with a header), typed. A missing extract reads as an
    empty table with the same columns, so a landing folder of real NASA files alone still builds
    (its units then show as unregistered).
-#}
{% macro read_registry_extract(path) %}
    {{ return(adapter.dispatch('read_registry_extract', 'pdm_lakehouse')(path)) }}
{% endmacro %}

{% macro duckdb__read_registry_extract(path) %}
    {%- set columns = {
        'dataset': 'varchar',
        'split': 'varchar',
        'unit_number': 'integer',
        'equipment_model_code': 'varchar',
        'site_code': 'varchar',
        'firmware_version': 'varchar',
        'commissioned_at': 'timestamp',
        'cycle_hours': 'double',
        'updated_at': 'timestamp',
    } -%}
    {%- if files_exist(path) %}
    select * from read_csv(
        {{ sql_string(path) }},
        header = true,
        auto_detect = false,
        columns = { {%- for name, type in columns.items() %}'{{ name }}': '{{ type }}'{{ ", " if not loop.last }}{% endfor -%} },
        timestampformat = '%Y-%m-%d %H:%M:%S'
    )
    {%- else %}
    {{ empty_relation(columns) }}
    {%- endif %}
{% endmacro %}
