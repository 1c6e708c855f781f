{#-
    Pre-hook of every model (dbt_project.yml; an on-run-start hook would not do: dbt runs the nodes
    even when one fails): stop the build if a build that started later has already written to the
    warehouse. Every increment is stamped with its build's start (run_started_at) and read by "newer
    than my watermark"; a build that started first but got the warehouse second (it waited for the
    other's lock) would stamp its rows older than the watermarks the other one left, and they would be
    skipped for ever. On every model, not only the landing's root (base_cmapss__landed_lines): a build
    of part of the project (the scores fed back, `--select source:predictions+`; a registry change)
    has other roots. Stopping keeps the last good state; running it again (a new start time) takes in
    everything it would have.
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
