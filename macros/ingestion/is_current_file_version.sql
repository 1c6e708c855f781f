{#-
    The one rule for which landing of a file is its current version: the version whose lines the clean
    tables and the quarantine hold. It is the file's newest landing that set what the file holds (one
    that is `readable`, and not its own content touched: "unchanged content: not read again"), unless
    that landing is a copy of another file's content ("same content as ...: not read again"), which
    leaves the file no current version: the other file holds those rows.

    A window expression over a relation with one row per landing of a file (source_file, ingested_at,
    duplicate_of_source_file and the columns `readable` reads). Used by the ingestion manifest
    (stg_cmapss__landed_files.is_current_version), by bronze to find the content each file's rows hold
    when a batch is compared with it (base_cmapss__landed_lines) and in the table a rebuild replaces
    (replaced_bronze_contents), and by the checks that a rebuild drops no landed row
    (current_file_versions, below).

    `readable`: a boolean SQL expression saying a landing can set what the file holds. The manifest
    passes `not is_rejected_version` (a first landing unreadable as a whole is current: its quarantine
    row is the file's); bronze and the check pass `file_error is null` (such a landing holds no line).
-#}
{% macro is_current_file_version(readable) -%}
    (
        duplicate_of_source_file is null
        and ({{ readable }})
        and row_number() over (
            partition by
                source_file,
                ({{ readable }}) and coalesce(duplicate_of_source_file <> source_file, true)
            order by ingested_at desc
        ) = 1
    )
{%- endmacro %}

{#- The rows of `versions` (a relation or CTE with one row per landing of a file, the columns above)
    that are their file's current version, judged as bronze judges them (`file_error is null`): used by
    the two checks that count what a rebuild of bronze would drop (assert_full_refresh_keeps_landed_rows,
    assert_rebuild_holds_back_no_ingested_file). -#}
{% macro current_file_versions(versions) -%}
    select *
    from (
        select
            *,
            {{ is_current_file_version('file_error is null') }} as is_current_version
        from {{ versions }}
    ) as judged_versions
    where is_current_version
{%- endmacro %}
