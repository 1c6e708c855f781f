{#-
    The checkpoint: of the files listed in the landing folder, those to read in this build.
    - A file whose version (path, size, modification time) differs from the newest version of
      that path in `ingested_relation` (bronze's raw lines): new, or rewritten in place, or put
      back as an earlier version (restored from a backup with its old size and time: it differs
      from what bronze holds now, so it is read again).
    - A file whose newest version was a copy of another file's content ("same content as ...",
      no lines of its own) when that other file is read again in this build: the content the copy
      relied on may be about to leave the clean tables, so the copy is read with it and takes it
      over if so (base_cmapss__landed_lines decides; a file merely touched keeps its content).
    The versions are read from ingested_file_versions (below): one row per version, not a pass
    over the lines, never a read of an old file.
-#}
{% macro files_not_yet_ingested(listed_files, ingested_relation) %}
    {%- if listed_files | length == 0 or ingested_relation is none -%}
        {{ return(listed_files) }}
    {%- endif -%}
    {%- set newest_query -%}
        select
            source_file,
            file_size_bytes,
            cast(file_modified_at as string) as file_modified_at,
            duplicate_of_source_file
        from (
            select
                *,
                row_number() over (partition by source_file order by ingested_at desc) as recency
            from ({{ ingested_file_versions(ingested_relation) }}) as versions
        ) as ranked
        where recency = 1
    {%- endset -%}
    {%- set newest = {} -%}
    {%- set copy_of = {} -%}
    {%- for row in run_query(newest_query).rows -%}
        {%- do newest.update({row[0]: row[1] ~ '|' ~ row[2]}) -%}
        {%- if row[3] is not none and row[3] != row[0] -%}
            {%- do copy_of.update({row[0]: row[3]}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set new_files = [] -%}
    {%- set new_paths = [] -%}
    {%- for f in listed_files -%}
        {%- if newest.get(f.source_file) != (f.file_size_bytes ~ '|' ~ f.file_modified_at) -%}
            {%- do new_files.append(f) -%}
            {%- do new_paths.append(f.source_file) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for f in listed_files -%}
        {%- if f.source_file not in new_paths and copy_of.get(f.source_file) in new_paths -%}
            {%- do new_files.append(f) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(new_files) }}
{% endmacro %}

{#-
    One row per file version bronze's raw lines (`landed_lines`) hold: source_file, file_size_bytes,
    file_modified_at, file_content_md5, duplicate_of_source_file, file_error, ingested_at. Read from
    base_cmapss__landed_file_versions (one row per version, appended by every build after bronze:
    its size follows the files landed, not their lines), plus the versions bronze holds beyond the
    newest there (a build that stopped in between; the zone maps of ingested_at prune the rest).
    Every version has one row with line_number 0 or 1 in bronze (its first line, or the file-level
    row of a file with no readable line), kept when `make optimize` prunes a superseded version's
    lines, so before the versions table exists (a first build) those rows are read instead.
    The versions table is looked up by name, not ref(): it is built from bronze, after it. In a
    full refresh, and where the increments are rebuilt whole (Spark), bronze is rebuilt too and the
    table can be a build behind it, so bronze's rows are read then.
-#}
{% macro ingested_file_versions(landed_lines) -%}
    {%- set versions = adapter.get_relation(
        database=landed_lines.database, schema=landed_lines.schema, identifier='base_cmapss__landed_file_versions'
    ) if execute and not flags.FULL_REFRESH and not rebuilds_incrementals_whole() else none -%}
    {#- a file version's facts, the same columns from either table -#}
    {%- set columns = [
        'source_file', 'file_size_bytes', 'file_modified_at', 'file_content_md5', 'duplicate_of_source_file',
        'file_error', 'ingested_at',
    ] -%}
    {%- if versions is not none %}
    select {{ columns | join(', ') }}
    from {{ versions }}
    union all
    {%- endif %}
    select {{ columns | join(', ') }}
    from {{ landed_lines }}
    where line_number <= 1
    {%- if versions is not none %}
        and ingested_at > (select coalesce(max(ingested_at), {{ timestamp_before_all() }}) from {{ versions }})
    {%- endif %}
{%- endmacro %}
