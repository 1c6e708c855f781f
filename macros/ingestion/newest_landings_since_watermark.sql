{#-
    The increment of a staging model reading bronze: rows of `relation` ingested since this
    model's watermark, and of each source file only its newest usable version (a file corrected
    twice between builds counts once, as its latest content; a rejected version, below, never).
-#}
{% macro newest_landings_since_watermark(relation, where='true') -%}
    select *
    from (
        select
            *,
            max(ingested_at) over (partition by source_file) as newest_ingested_at
        from {{ relation }}
        where ingested_at > {{ incremental_watermark() }} and ({{ where }})
            and file_version_id not in ({{ rejected_file_versions() }})
    ) as increment
    where ingested_at = newest_ingested_at
{%- endmacro %}

{#-
    Landings that do not replace the file's earlier rows: a version that is unreadable as a whole
    (binary, another encoding, empty) of a file that had a readable version before. The clean
    tables and the quarantine keep that earlier version; the manifest marks the landing
    `rejected` and a warning names it while it is the newest landing of its file.
-#}
{% macro rejected_file_versions() -%}
    select unreadable.file_version_id
    from {{ ref('base_cmapss__landed_lines') }} as unreadable
    where unreadable.line_number = 0
        and unreadable.file_error is not null
        and exists (
            select 1
            from {{ ref('base_cmapss__landed_lines') }} as earlier
            where earlier.source_file = unreadable.source_file
                and earlier.line_number = 1
                and earlier.ingested_at < unreadable.ingested_at
        )
{%- endmacro %}

{#-
    Pre-hook of the staging increments: a file landed again with new content replaces all its
    earlier rows, even when its new version has no row for this model (all of it quarantined,
    say), or none at all (its new content is a copy of another file's, which holds those rows);
    a rejected version (above), or the file's own content touched, replaces nothing. Rows of
    files re-landed since the watermark are removed before the increment lands.
-#}
{% macro delete_rows_of_relanded_files() -%}
    {%- if is_incremental() -%}
    delete from {{ this }}
    where source_file in (
        select landed.source_file
        from {{ ref('base_cmapss__landed_lines') }} as landed
        where landed.ingested_at > {{ incremental_watermark() }}
            and coalesce(landed.duplicate_of_source_file <> landed.source_file, true)
            and landed.file_version_id not in ({{ rejected_file_versions() }})
    )
    {%- endif -%}
{%- endmacro %}
