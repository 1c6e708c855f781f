{#-
    The landing folder's entries (top level only: the registry extract and the erasure tombstone live in their own subfolders), with
    the metadata the checkpoint compares (path, size, modification time). Reads no file content.
    Returns a list of dicts: source_file, entry_kind, file_size_bytes, file_modified_at, detail.
    entry_kind is `file` (stable: unchanged across `settle_seconds`, safe to read), `settling` (still
    being written: held back this build), `directory`, `dangling_symlink` or `not_a_regular_file`
    (never read). An empty or missing folder gives an empty list.
-#}
{% macro list_landed_files(landing_path, settle_seconds=0) %}
    {{ return(adapter.dispatch('list_landed_files', 'pdm_lakehouse')(landing_path, settle_seconds)) }}
{% endmacro %}

{#- DuckDB: the function registered by dbt_plugins/landing_listing.py (DuckDB's glob and read_blob
    skip directories and broken links, so they cannot report them). -#}
{% macro duckdb__list_landed_files(landing_path, settle_seconds=0) %}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set listing -%}
        select
            entry.source_file,
            entry.entry_kind,
            entry.file_size_bytes,
            cast(to_timestamp(entry.modified_epoch_seconds) as timestamp) as file_modified_at,
            entry.detail
        from (
            select unnest(pdm_list_landing_folder({{ sql_string(landing_path) }}, {{ settle_seconds | float }})) as entry
        ) as entries
        -- the registry extract's and the erasure tombstone's own subfolders are expected, not stray entries
        where not (
            entry.entry_kind = 'directory'
            and entry.source_file in (
                {{ sql_string(landing_path.rstrip('/') ~ '/registry') }},
                {{ sql_string(landing_path.rstrip('/') ~ '/erasures') }}
            )
        )
        order by entry.source_file
    {%- endset -%}
    {%- set entries = [] -%}
    {%- for row in run_query(listing).rows -%}
        {%- do entries.append({
            'source_file': row[0],
            'entry_kind': row[1],
            'file_size_bytes': row[2],
            'file_modified_at': row[3] | string if row[3] is not none else none,
            'detail': row[4],
        }) -%}
    {%- endfor -%}
    {%- if entries | length == 0 -%}
        {{ log('No files in the landing folder ' ~ landing_path, info=true) }}
    {%- endif -%}
    {{ return(entries) }}
{% endmacro %}
