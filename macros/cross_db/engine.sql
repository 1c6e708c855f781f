{#-
    What differs between the engines the project builds on: DuckDB (the default, every target but
    `spark`) and Spark (target `spark`, dbt-spark). The models call these, never an engine name.
-#}

{#- True on an engine that rebuilds the per-unit and per-file incremental models whole on every
    build: Spark here writes parquet tables, which cannot delete rows, so the delete+insert
    increments of silver and gold (and the staging models that replace a re-landed file's rows)
    are rebuilt as tables there. Same answers, not the same cost. -#}
{% macro rebuilds_incrementals_whole() %}
    {{ return(target.type == 'spark') }}
{% endmacro %}

{#- The materialization of a model that is incremental on DuckDB: `table` where increments are
    rebuilt whole (above), `incremental` elsewhere. -#}
{% macro incremental_materialization() %}
    {{ return('table' if rebuilds_incrementals_whole() else 'incremental') }}
{% endmacro %}

{#- The materialization of a view whose SQL is longer than Spark's Hive metastore (Derby) keeps a
    view's text (32,700 characters): a table there, a view elsewhere. -#}
{% macro wide_view_materialization() %}
    {{ return('table' if target.type == 'spark' else 'view') }}
{% endmacro %}

{#- A timestamp before / after every real one: the watermark of a model that has processed nothing.
    DuckDB has -infinity and infinity; Spark has no infinite timestamps (the cast gives null). -#}
{% macro timestamp_before_all() %}
    {{ return(adapter.dispatch('timestamp_before_all', 'pdm_lakehouse')()) }}
{% endmacro %}

{% macro default__timestamp_before_all() -%}
    cast('-infinity' as timestamp)
{%- endmacro %}

{% macro spark__timestamp_before_all() -%}
    timestamp'0001-01-01 00:00:00'
{%- endmacro %}

{% macro timestamp_after_all() %}
    {{ return(adapter.dispatch('timestamp_after_all', 'pdm_lakehouse')()) }}
{% endmacro %}

{% macro default__timestamp_after_all() -%}
    cast('infinity' as timestamp)
{%- endmacro %}

{% macro spark__timestamp_after_all() -%}
    timestamp'9999-12-31 23:59:59'
{%- endmacro %}

{#- The values of a group joined by `separator` in `order_by` order. -#}
{% macro string_agg_ordered(value, separator, order_by) %}
    {{ return(adapter.dispatch('string_agg_ordered', 'pdm_lakehouse')(value, separator, order_by)) }}
{% endmacro %}

{% macro duckdb__string_agg_ordered(value, separator, order_by) -%}
    string_agg({{ value }}, {{ separator }} order by {{ order_by }})
{%- endmacro %}

{% macro spark__string_agg_ordered(value, separator, order_by) -%}
    string_agg({{ value }}, {{ separator }}) within group (order by {{ order_by }})
{%- endmacro %}

{#- A SQL expression that fails the query with `message` (a SQL text expression) when evaluated. -#}
{% macro raise_sql_error(message) %}
    {{ return(adapter.dispatch('raise_sql_error', 'pdm_lakehouse')(message)) }}
{% endmacro %}

{% macro duckdb__raise_sql_error(message) -%}
    error({{ message }})
{%- endmacro %}

{% macro spark__raise_sql_error(message) -%}
    raise_error({{ message }})
{%- endmacro %}

{#- dbt's own cast (contracts build their empty schema query with it): Spark has no `varchar`
    without a length, and the contracts name text columns `varchar`, which is `string` there
    (dbt_project.yml's `dispatch:` makes dbt look here first). -#}
{% macro spark__cast(field, type) -%}
    cast({{ field }} as {{ 'string' if type | trim | lower == 'varchar' else type }})
{%- endmacro %}

{#-
    Spark: the files of `directory` whose name matches `glob` (its last path segment only), as a
    catalogue table `pdm_files.<name>` over the folder, dropped and created again so it lists the
    folder as it is now. Unlike a path read (`binaryFile.`...``), a table over a folder that does
    not exist, or holds no match, reads as no rows. `using` is the Spark data source (binaryFile:
    path, modificationTime, length, content; csv or parquet with `columns`, {name: type}), options
    its options. Files in subfolders are not read (recursiveFileLookup stays off for csv and
    parquet; binaryFile tables filter on the folder). Returns the table's name.
-#}
{% macro spark_files_table(name, directory, glob='*', using='binaryFile', columns=none, options={}) %}
    {%- set relation = 'pdm_files.' ~ name -%}
    {%- if execute -%}
        {%- do run_query('create schema if not exists pdm_files') -%}
        {%- do run_query('drop table if exists ' ~ relation) -%}
        {%- set all_options = {'pathGlobFilter': glob} -%}
        {%- if using == 'binaryFile' -%}{%- do all_options.update({'recursiveFileLookup': 'true'}) -%}{%- endif -%}
        {%- do all_options.update(options) -%}
        {%- set ddl -%}
            create table {{ relation }}
            {%- if columns %} ({% for column, type in columns.items() %}{{ column }} {{ 'string' if type == 'varchar' else type }}{{ ", " if not loop.last }}{% endfor %}){% endif %}
            using {{ using }}
            options ({% for key, value in all_options.items() %}{{ key }} {{ sql_string(value) }}{{ ", " if not loop.last }}{% endfor %})
            location {{ sql_string(directory) }}
        {%- endset -%}
        {%- do run_query(ddl) -%}
    {%- endif -%}
    {{ return(relation) }}
{% endmacro %}

{#- Spark: a binaryFile path (`file:/abs/dir/name`) as the project names the file, `directory` + '/'
    + its name, the way DuckDB's listing names it. -#}
{% macro spark_file_name(path_column, directory) -%}
    concat({{ sql_string(directory.rstrip('/') ~ '/') }}, regexp_extract({{ path_column }}, '[^/]+$', 0))
{%- endmacro %}

{#- Spark: the part of a binaryFile path (`file:/abs/dir/sub/name`) below `directory` (`sub/name`). -#}
{% macro spark_path_below(path_column, directory) -%}
    substring({{ path_column }}, instr({{ path_column }}, {{ sql_string(directory.rstrip('/').lstrip('.').lstrip('/') ~ '/') }}) + {{ (directory.rstrip('/').lstrip('.').lstrip('/') ~ '/') | length }})
{%- endmacro %}

{#- dbt's safe_cast, which writes unit-test fixtures: dbt-spark's, plus a YAML list (a fixture of an
    array column, e.g. extra_values: [7.5]) written as Spark's array(...) rather than [...]. -#}
{% macro spark__safe_cast(field, type) -%}
    {%- if field is iterable and field is not string and field is not mapping -%}
        cast(array({{ field | join(', ') }}) as {{ type }})
    {%- else -%}
        {%- set is_nested = type.lower().startswith('struct') or type.lower().startswith('array')
            or type.lower().startswith('map') -%}
        cast({{ field.strip('"').strip("'") if (is_nested and field is string) else field }} as {{ type }})
    {%- endif -%}
{%- endmacro %}
