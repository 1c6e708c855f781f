{#-
    The order in which silver takes one of several landings of the same data as the latest: a reading
    landed more than once (int_sensor_readings_deduplicated) and a dataset's RUL truth landed in more
    than one file (int_rul_truth_mapped). Newest content_ingested_at first (the build that first took
    in the file's content, kept through a full refresh; a version landed before the column existed has
    none, and its ingested_at is that time); among files read in one build, the one modified last (to
    the second; unknown last); then the file name that sorts last.
    `landing`: the alias of the landed rows (ingested_at, source_file); `file_version`: the alias of
    base_cmapss__landed_file_versions joined to them on file_version_id.
-#}
{% macro latest_landing_first(landing, file_version) -%}
    coalesce({{ file_version }}.content_ingested_at, {{ landing }}.ingested_at) desc,
    {{ file_version }}.file_modified_at desc nulls last,
    {{ landing }}.source_file desc
{%- endmacro %}
