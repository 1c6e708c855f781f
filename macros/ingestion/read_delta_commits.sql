{#-
    The commits of one published Delta table (`table_path`, a folder `lakehouse.publish` writes)
    newer than `after_version`, one row each: delta_version, committed_at (the commit's own
    timestamp, UTC), operation, and changes_through, the newest `silver.int_unit_change_log`
    change the version includes (`pdm.changes_through`, which lakehouse.publish writes into every
    commit of a unit-keyed table; restore and optimize carry it over). Read from the table's
    `_delta_log/<version>.json` files, listing the folder first so only the newer commits are
    opened; no Delta data file is read. A table not published yet reads as no commit.
-#}
{% macro read_delta_commits(table_path, after_version=-1) %}
    {{ return(adapter.dispatch('read_delta_commits', 'pdm_lakehouse')(table_path, after_version)) }}
{% endmacro %}

{% macro duckdb__read_delta_commits(table_path, after_version=-1) %}
    {%- set commit_files = [] -%}
    {%- if execute -%}
        {%- set listing -%}
            select file from glob({{ sql_string(table_path.rstrip('/') ~ '/_delta_log/*.json') }}) order by file
        {%- endset -%}
        {%- for row in run_query(listing).rows -%}
            {%- set version = row[0].replace('\\', '/').split('/') | last | replace('.json', '') -%}
            {%- if version.isdigit() and version | int > after_version | int -%}
                {%- do commit_files.append(row[0]) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if commit_files | length > 0 %}
    select
        cast(regexp_extract(filename, '(\d+)\.json$', 1) as bigint) as delta_version,
        make_timestamp(cast(json_extract_string(json, '$.commitInfo.timestamp') as bigint) * 1000) as committed_at,
        json_extract_string(json, '$.commitInfo.operation') as operation,
        try_cast(json_extract_string(json, '$.commitInfo."pdm.changes_through"') as timestamp) as changes_through
    from read_json_objects([
        {%- for path in commit_files %}{{ sql_string(path) }}{{ ", " if not loop.last }}{% endfor -%}
    ], format = 'newline_delimited', filename = true)
    where json_exists(json, '$.commitInfo')
    {%- else %}
    {{ empty_relation({
        'delta_version': 'bigint',
        'committed_at': 'timestamp',
        'operation': 'varchar',
        'changes_through': 'timestamp',
    }) }}
    {%- endif %}
{% endmacro %}

{#- Spark: the commit files listed and read through a binaryFile table over `_delta_log`
    (spark_files_table; a table not published yet reads as no commit), split into their JSON
    lines, the commitInfo line's fields taken with get_json_object. On Spark the lake is the one
    `lakehouse.publish` writes from the DuckDB warehouse; a Spark build reads its commits the same
    way (gold.mart_pipeline_freshness), and has them only where that lake is beside it. -#}
{% macro spark__read_delta_commits(table_path, after_version=-1) %}
    {%- set log_folder = table_path.rstrip('/') ~ '/_delta_log' %}
    with commit_files as (
        select
            cast(regexp_extract(path, '([0-9]+)\.json$', 1) as bigint) as delta_version,
            explode(split(cast(content as string), '\n', -1)) as json
        from {{ spark_files_table('delta_commits', log_folder, '*.json') }}
        where regexp_extract(path, '/([0-9]+)\.json$', 1) != ''
            and cast(regexp_extract(path, '([0-9]+)\.json$', 1) as bigint) > {{ after_version | int }}
    )

    select
        delta_version,
        timestamp_millis(cast(get_json_object(json, '$.commitInfo.timestamp') as bigint)) as committed_at,
        get_json_object(json, '$.commitInfo.operation') as operation,
        cast(get_json_object(json, "$.commitInfo['pdm.changes_through']") as timestamp) as changes_through
    from commit_files
    where get_json_object(json, '$.commitInfo') is not null
{% endmacro %}
