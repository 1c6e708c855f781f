{#-
    Called by base_cmapss__landed_lines when it compiles a rebuild of bronze from the landing folder (a
    full refresh; every build on Spark) over a table that holds rows (`landed_lines`, the table the
    rebuild replaces: table_being_replaced, on Spark possibly where a build that stopped kept it
    aside). A file the listing holds back (`entries`, list_landed_files: entry_kind `settling`,
    changed during the settle interval, so still being written) is not read by the rebuild, so the rows
    of the version bronze holds for it (the file is being rewritten in place) would leave bronze, silver
    and gold until a later build reads it, with a warning only. An incremental build keeps them: it reads
    nothing of the file and replaces nothing. This stops the build before anything is replaced (compiled
    before the pre-hooks and the table's replacement), naming each such file, its lines and what the
    listing saw. Run the build again once the files are whole; the var full_refresh_drops_deleted_files
    lets it through (the rows come back with the build that reads the files).
    A held-back file whose current content bronze does not hold (new, or a copy of another file's) loses
    nothing: it only waits, as in any build. assert_full_refresh_keeps_landed_rows checks the files that
    are gone; its listing takes no settle wait, so it cannot see which files this build holds back.
-#}
{% macro assert_rebuild_holds_back_no_ingested_file(entries, landed_lines) %}
    {%- set settling = entries | selectattr('entry_kind', 'equalto', 'settling') | list -%}
    {%- if not execute or settling | length == 0 -%}
        {{ return('') }}
    {%- endif -%}
    {%- set held_query -%}
        with versions as (
            -- one row per version of the held-back files: its line 1, or its line-0 row
            select
                file_version_id,
                source_file,
                ingested_at,
                max(file_error) as file_error,
                max(duplicate_of_source_file) as duplicate_of_source_file
            from {{ landed_lines }}
            where line_number <= 1
                and source_file in ({% for f in settling %}{{ sql_string(f.source_file) }}{{ ', ' if not loop.last }}{% endfor %})
            group by file_version_id, source_file, ingested_at
        ),

        current_versions as (
            {{ current_file_versions('versions') }}
        )

        select current_versions.source_file, count(*) as line_count
        from current_versions
        inner join {{ landed_lines }} as landed_lines
            on current_versions.file_version_id = landed_lines.file_version_id
        where landed_lines.line_number > 0 and landed_lines.raw_line is not null
        group by current_versions.source_file
        order by current_versions.source_file
    {%- endset -%}
    {%- set held = run_query(held_query).rows -%}
    {%- if held | length == 0 -%}
        {{ return('') }}
    {%- endif -%}
    {%- set details = {} -%}
    {%- for f in settling -%}
        {%- do details.update({f.source_file: f.detail}) -%}
    {%- endfor -%}
    {%- set files = [] -%}
    {%- for row in held -%}
        {%- do files.append("  '" ~ row[0] ~ "' (" ~ row[1] ~ " lines): " ~ details[row[0]]) -%}
    {%- endfor -%}
    {%- set total = held | map(attribute=1) | sum -%}
    {{ return(stop_rebuild_or_accept_loss(
        folder_rebuild_name('this') ~ ' drops ' ~ total ~ ' ingested lines until a later build reads their files, '
            ~ 'which are still being written:\n' ~ files | join('\n'),
        folder_rebuild_name(capital=true) ~ ' would drop ' ~ total ~ ' ingested lines until a later build reads '
            ~ 'their files: bronze is rebuilt from the landing folder ' ~ var('landing_path') ~ ' alone'
            ~ folder_rebuild_reason() ~ ', and these files are being written, so this build holds them back:\n'
            ~ files | join('\n') ~ '\n'
            ~ 'Nothing was replaced: bronze, silver and gold keep their rows. '
            ~ replaced_table_kept_aside(landed_lines)
            ~ 'Run the build again once the files are whole, or let it through (their rows come back with the '
            ~ 'build that reads them): '
    )) }}
{% endmacro %}
