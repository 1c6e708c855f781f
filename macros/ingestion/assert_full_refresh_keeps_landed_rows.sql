{#-
    Pre-hook of base_cmapss__landed_lines: a full refresh rebuilds bronze from the landing folder
    alone, so the rows of a file deleted from the folder after ingestion (kept, with a warning, by
    every incremental build) would be dropped from bronze, silver and gold without a word, and the
    manifest would forget the file. Before the table is replaced, this compares what it holds with
    what the folder holds now and stops the build, naming each file whose rows would be lost and
    how many lines they are; bronze is not replaced and everything downstream is skipped, so every
    layer keeps its last state. Put the files back in the landing folder (same content, any name)
    and run the full refresh again, or accept the loss with the var full_refresh_drops_deleted_files
    (true: the full refresh proceeds and the build log names what it drops).

    A file's rows are those of its current version (the one the clean tables and the quarantine
    hold: is_current_file_version, the rule of stg_cmapss__landed_files.is_current_version; a file
    whose newest content is a copy of another file's has none), counted as its lines with text:
    lines of an erased unit (`make erase`, raw_line null) are blank on purpose and lose nothing.
    The files an incremental build would read now (files_not_yet_ingested: a version bronze has not
    read, or an earlier one put back) are read here for their md5 and whether they are readable; the
    other files' md5 is that of the version bronze recorded with their path, size and modification
    time. A file's rows are kept when:
    - their content is in the folder, under the file's own name or another one of the same kind,
      dataset and split, read or not yet (a copy landed as "same content as ..." counts): the full
      refresh reads it again. A file whose name no rule recognises holds quarantine rows only: its
      content under any name keeps every line;
    - the folder holds a readable version of that same file that an incremental build would read:
      it replaces the file's rows there too.
    So a file deleted after ingestion blocks, and so does one whose only version in the folder is
    unreadable as a whole (rejected, or not read yet): an incremental build keeps the earlier rows
    then, and the full refresh would quarantine the file and drop them.
    Where the increments are rebuilt whole (Spark: parquet tables cannot append in place, so bronze
    is a table rebuilt from the folder at every build, rebuilds_incrementals_whole), every build
    replaces bronze, and this runs at every build: a file deleted from the folder stops it, as a
    full refresh stops on DuckDB (an incremental build there keeps the rows and warns instead).
    The table compared is the one being replaced (table_being_replaced: on Spark, where a build that
    stopped while writing bronze again kept it aside, that one; macros/ingestion/replaced_table.sql).
    Nothing to check on a first build (no table yet), nor in a build that does not rebuild bronze
    (an incremental one on DuckDB, or a full refresh of models downstream only: this hook does not
    run). The listing is taken without the settle wait: a file still being written is in the folder.
-#}
{% macro assert_full_refresh_keeps_landed_rows() %}
    {%- set replaced = table_being_replaced() if execute and replaces_from_folder_alone() else none -%}
    {%- if replaced is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- set in_folder = list_landed_files(var('landing_path'))
        | selectattr('entry_kind', 'in', ['file', 'settling']) | list -%}
    {%- set in_landing = [] -%}
    {%- for f in in_folder -%}
        {%- do in_landing.append([
            sql_string(f.source_file),
            f.file_size_bytes if f.file_size_bytes is not none else 'null',
            sql_string(f.file_modified_at) if f.file_modified_at is not none else 'null',
        ]) -%}
    {%- endfor -%}
    {%- set lost_query -%}
        with listed as (
            {{ literal_relation(
                {'source_file': 'varchar', 'file_size_bytes': 'bigint', 'file_modified_at': 'varchar'}, in_landing
            ) }}
        ),

        to_be_read as (
            -- what an incremental build would read now, as it would read it: md5, and file_error
            -- for a version unreadable as a whole (which replaces no row)
            {{ read_landed_files(files_not_yet_ingested(in_folder, replaced)) }}
        ),

        versions as (
            -- one row per version: its line 1, or its line-0 row (no readable line, or a copy)
            select
                file_version_id,
                source_file,
                file_size_bytes,
                cast(file_modified_at as string) as file_modified_at,
                file_content_md5,
                ingested_at,
                file_kind,
                max(file_error) as file_error,
                max(duplicate_of_source_file) as duplicate_of_source_file
            from {{ replaced }}
            where line_number <= 1
            group by
                file_version_id, source_file, file_size_bytes, file_modified_at, file_content_md5, ingested_at, file_kind
        ),

        current_versions as (
            {{ current_file_versions('versions') }}
        ),

        listed_contents as (
            -- the md5 of each file in the folder (as read now, else the version bronze recorded), and
            -- what its name says its lines are: the same bytes under another kind, dataset or split are
            -- other data, not the file's content
            select
                coalesce(to_be_read.file_content_md5, versions.file_content_md5) as file_content_md5,
                {{ landed_file_class('listed.source_file') }} as file_class
            from listed
            left join to_be_read
                on listed.source_file = to_be_read.source_file
            left join versions
                on listed.source_file = versions.source_file
                and listed.file_size_bytes = versions.file_size_bytes
                and listed.file_modified_at = versions.file_modified_at
        ),

        not_in_landing as (
            select
                current_versions.file_version_id,
                current_versions.source_file,
                exists (
                    select 1 from listed where listed.source_file = current_versions.source_file
                ) as is_in_landing,
                (
                    select max(to_be_read.file_error) from to_be_read
                    where to_be_read.source_file = current_versions.source_file
                ) as unreadable_version_error
            from current_versions
            where not exists (
                select 1 from listed_contents
                where listed_contents.file_content_md5 = current_versions.file_content_md5
                    and (
                        listed_contents.file_class = {{ landed_file_class('current_versions.source_file') }}
                        or current_versions.file_kind = 'unrecognised'
                    )
            )
            and not exists (
                select 1 from to_be_read
                where to_be_read.source_file = current_versions.source_file
                    and to_be_read.file_error is null
            )
        )

        select
            not_in_landing.source_file,
            not_in_landing.is_in_landing,
            count(*) as line_count,
            not_in_landing.unreadable_version_error
        from not_in_landing
        inner join {{ replaced }} as landed_lines
            on not_in_landing.file_version_id = landed_lines.file_version_id
        where landed_lines.line_number > 0 and landed_lines.raw_line is not null
        group by not_in_landing.source_file, not_in_landing.is_in_landing, not_in_landing.unreadable_version_error
        order by not_in_landing.source_file
    {%- endset -%}
    {%- set lost = run_query(lost_query).rows -%}
    {%- if lost | length == 0 -%}
        {{ return('') }}
    {%- endif -%}
    {%- set files = [] -%}
    {%- for row in lost -%}
        {%- do files.append("  '" ~ row[0] ~ "' (" ~ row[2] ~ " lines): " ~ (
            'deleted from the landing folder after ingestion' if not row[1]
            else 'in the landing folder, but its new version is unreadable (' ~ row[3] ~ ')' ~ (
                ": an incremental build keeps the earlier version's rows" if not rebuilds_incrementals_whole() else ''
            ) if row[3] is not none
            else 'in the landing folder, but not with the content of the version bronze holds')) -%}
    {%- endfor -%}
    {%- set total = lost | map(attribute=2) | sum -%}
    {{ return(stop_rebuild_or_accept_loss(
        folder_rebuild_name('this') ~ ' drops ' ~ total ~ ' ingested lines, of files whose content is no longer '
            ~ 'in the landing folder ' ~ var('landing_path') ~ ':\n' ~ files | join('\n'),
        folder_rebuild_name(capital=true) ~ ' would drop ' ~ total ~ ' ingested lines: bronze is rebuilt from '
            ~ 'the landing folder ' ~ var('landing_path') ~ ' alone' ~ folder_rebuild_reason() ~ ', and the content '
            ~ 'of these files is no longer there:\n' ~ files | join('\n') ~ '\n'
            ~ 'Nothing was replaced: bronze, silver and gold keep their rows. ' ~ replaced_table_kept_aside(replaced)
            ~ 'Put the files back in the landing '
            ~ 'folder (same content, any name) and run the build again, or accept the loss: '
    )) }}
{% endmacro %}
