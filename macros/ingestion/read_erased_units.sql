{#-
    The erasure tombstone: `<landing_path>/erasures/erased_units.csv`, one row per unit erased with
    `python -m lakehouse.erase` (`make erase`). It lives in the landing folder (its own subfolder,
    which the landing listing passes over like `registry/`), so it travels with the landing data: a
    full refresh, or a file landed again that still holds an erased unit's lines, never brings the
    unit back. Typed; no file yet reads as an empty table with the same columns. It holds no
    free-text reason (that is in the audit table `<lake>/audit/erasures`), only its digest.
-#}
{% macro erasures_path() -%}
    {{ return(var('landing_path').rstrip('/') ~ '/erasures/erased_units.csv') }}
{%- endmacro %}

{% macro read_erased_units(path) %}
    {{ return(adapter.dispatch('read_erased_units', 'pdm_lakehouse')(path)) }}
{% endmacro %}

{% macro duckdb__read_erased_units(path) %}
    {%- set columns = {
        'unit_id': 'varchar',
        'dataset': 'varchar',
        'split': 'varchar',
        'unit_number': 'integer',
        'erased_at': 'timestamp',
        'reason_sha256': 'varchar',
    } -%}
    {%- if files_exist(path) %}
    select * from read_csv(
        {{ sql_string(path) }},
        header = true,
        auto_detect = false,
        columns = { {%- for name, type in columns.items() %}'{{ name }}': '{{ type }}'{{ ", " if not loop.last }}{% endfor -%} }
    )
    {%- else %}
    {{ empty_relation(columns) }}
    {%- endif %}
{% endmacro %}

{#- Spark: the CSV read through a table over its folder (spark_files_table: no tombstone reads
    as no rows). -#}
{% macro spark__read_erased_units(path) %}
    {%- set columns = {
        'unit_id': 'string',
        'dataset': 'string',
        'split': 'string',
        'unit_number': 'integer',
        'erased_at': 'timestamp',
        'reason_sha256': 'string',
    } -%}
    select {{ columns.keys() | join(', ') }}
    from {{ spark_files_table(
        'erased_units', path.split('/')[:-1] | join('/'), path.split('/') | last, 'csv', columns,
        {'header': 'true', 'timestampFormat': 'yyyy-MM-dd HH:mm:ss[.SSSSSS]'},
    ) }}
{% endmacro %}

{#-
    The unit number a raw sensor line names: its first token, when that is a positive whole number
    that fits an integer; null otherwise (such a line names no unit, and is quarantined).
    lakehouse/erase.py applies the same rule (RAW_LINE_UNIT_NUMBER) to the lines it erases in place.
-#}
{% macro raw_line_unit_number(raw_line) -%}
    case
        when try_cast(regexp_extract({{ raw_line }}, '^\s*(\S+)', 1) as double) between 1 and 2147483647
            and try_cast(regexp_extract({{ raw_line }}, '^\s*(\S+)', 1) as double)
            = floor(try_cast(regexp_extract({{ raw_line }}, '^\s*(\S+)', 1) as double))
            then cast(try_cast(regexp_extract({{ raw_line }}, '^\s*(\S+)', 1) as double) as integer)
    end
{%- endmacro %}
