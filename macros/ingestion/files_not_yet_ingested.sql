{#-
    The checkpoint: of the files listed in the landing folder, those whose version (path, size,
    modification time) is not yet in `ingested_relation` (bronze's raw lines). A file is read
    once; a file rewritten in place (new size or time) is a new version and is read again. The
    versions are read from ingested_file_versions (below): one row per version, not a pass over
    the lines, never a read of an old file.
-#}
{% macro files_not_yet_ingested(listed_files, ingested_relation) %}
    {%- if listed_files | length == 0 or ingested_relation is none -%}
        {{ return(listed_files) }}
    {%- endif -%}
    {%- set seen_query -%}
        select distinct
            source_file,
            file_size_bytes,
            cast(file_modified_at as string) as file_modified_at
        from ({{ ingested_file_versions(ingested_relation) }}) as versions
    {%- endset -%}
    {%- set seen = [] -%}
    {%- for row in run_query(seen_query).rows -%}
        {%- do seen.append(row[0] ~ '|' ~ row[1] ~ '|' ~ row[2]) -%}
    {%- endfor -%}
    {%- set new_files = [] -%}
    {%- for f in listed_files -%}
        {%- if (f.source_file ~ '|' ~ f.file_size_bytes ~ '|' ~ f.file_modified_at) not in seen -%}
            {%- do new_files.append(f) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(new_files) }}
{% endmacro %}

{#-
    One row per file version bronze's raw lines (`landed_lines`) hold: source_file, file_size_bytes,
    file_modified_at, file_content_md5, duplicate_of_source_file, ingested_at. Read from
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
        'ingested_at',
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
