{#-
    The checkpoint: of the files listed in the landing folder, those whose version (path, size,
    modification time) is not yet in `ingested_relation`. A file is read once; a file rewritten
    in place (new size or time) is a new version and is read again. Every version has one row
    with line_number 0 or 1 (its first line, or the file-level row of a file with no readable
    line), so only those rows are compared: a pass over the line numbers (pruned by their zone
    maps), not a distinct over every line, never a read of an old file.
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
        from {{ ingested_relation }}
        where line_number <= 1
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
