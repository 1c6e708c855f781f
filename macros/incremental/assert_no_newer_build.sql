{#-
    Pre-hook of base_cmapss__landed_lines, the root of every increment (an on-run-start hook would
    not do: dbt runs the nodes even when one fails): stop the build if a build that started later
    has already written to the warehouse. Every increment is stamped with its build's start (run_started_at) and read by
    "newer than my watermark"; a build that started first but got the warehouse second (it waited
    for the other's lock) would stamp its rows older than the watermarks the other one left, and
    they would be skipped for ever. Stopping keeps the last good state; running it again (a new
    start time) ingests everything it would have.
-#}
{% macro assert_no_newer_build_has_written() %}
    {%- set message -%}
        'this build started at {{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }} but a build that started '
        || cast(max(processed_through) as string)
        || ' has already written to the warehouse: run the build again (its increments would be skipped)'
    {%- endset %}
    select {{ raise_sql_error(message) }}
    from (
        select processed_through from bronze.ingestion_watermarks
        union all
        select processed_through from silver.unit_change_watermarks
    ) as watermarks
    having max(processed_through) > {{ ingestion_timestamp() }}
{% endmacro %}
