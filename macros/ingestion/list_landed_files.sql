{#-
    The landing folder's entries (top level only: the registry extract and the erasure tombstone live in their own subfolders), with
    the metadata the checkpoint compares (path, size, modification time). Reads no file content.
    Returns a list of dicts: source_file, entry_kind, file_size_bytes, file_modified_at, detail.
    entry_kind is `file` (stable: unchanged across `settle_seconds`, safe to read), `settling` (still
    being written: held back this build), `directory`, `dangling_symlink`, `not_a_regular_file` or
    `undecodable_name` (a name that is not UTF-8; never read). An empty or missing folder gives an empty list.
    `settled_files` ({entry name: [size, mtime_ns]}, the var landing_settled_files) names files known to be
    whole (the watcher saw their writer close them or them moved in, lakehouse/landing_events.py): one
    still of that size and modification time is not waited for.
-#}
{% macro list_landed_files(landing_path, settle_seconds=0, settled_files={}) %}
    {{ return(adapter.dispatch('list_landed_files', 'pdm_lakehouse')(landing_path, settle_seconds, settled_files)) }}
{% endmacro %}

{#- DuckDB: the function registered by dbt_plugins/landing_listing.py (DuckDB's glob and read_blob
    skip directories and broken links, so they cannot report them). -#}
{% macro duckdb__list_landed_files(landing_path, settle_seconds=0, settled_files={}) %}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set listing -%}
        select
            entry.source_file,
            entry.entry_kind,
            entry.file_size_bytes,
            cast(to_timestamp(entry.modified_epoch_seconds) as timestamp) as file_modified_at,
            entry.detail
        from (
            select unnest(pdm_list_landing_folder(
                {{ sql_string(landing_path) }}, {{ settle_seconds | float }}, {{ sql_string(tojson(settled_files or {})) }}
            )) as entry
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

{#- Spark: the folder listed in SQL (spark_files_table over binaryFile, selecting no content, so no
    file is read). A file modified less than `settle_seconds` ago is looked at again once it is that
    old (the build sleeps at most that long, in the JVM), as the DuckDB listing does: changed
    between the two looks, it is `settling`. Spark's listing does not see empty directories,
    broken symbolic links or FIFOs (it skips them); a subfolder that holds files is reported as a
    `directory` (the registry's and the tombstone's aside). A file in `settled_files` still of that size
    and modification time (to the millisecond, Spark's resolution) is not waited for. -#}
{% macro spark__list_landed_files(landing_path, settle_seconds=0, settled_files={}) %}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set folder = landing_path.rstrip('/') -%}
    {%- set listing -%}
        select
            {{ spark_file_name('path', folder) }} as source_file,
            {{ spark_path_below('path', folder) }} as relative_path,
            length as file_size_bytes,
            cast(timestamp_seconds(floor(unix_millis(modificationtime) / 1000)) as string) as file_modified_at,
            unix_millis(modificationtime) as modified_millis,
            (unix_millis(current_timestamp()) - unix_millis(modificationtime)) / 1000.0 as age_seconds
        from {{ spark_files_table('landing_listing', folder) }}
        order by source_file
    {%- endset -%}
    {%- set first_look = run_query(listing).rows -%}
    {%- set settle = settle_seconds | float -%}
    {%- set fresh = [] -%}
    {%- set whole = [] -%}
    {%- for row in first_look if '/' not in row[1] -%}
        {%- set known = (settled_files or {}).get(row[1]) -%}
        {%- if known and known[0] == row[2] and (known[1] // 1000000) == row[4] -%}
            {%- do whole.append(row[0]) -%}
        {%- elif row[5] < settle -%}
            {#- the age is a decimal from Spark: a float, to be subtracted from the settle interval -#}
            {%- do fresh.append(row[5] | float) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set second_look = {} -%}
    {%- if fresh | length > 0 -%}
        {%- set wait_millis = ([settle - (fresh | min), 0] | max) * 1000 -%}
        {%- do run_query("select reflect('java.lang.Thread', 'sleep', cast(" ~ wait_millis | int ~ " as bigint))") -%}
        {%- for row in run_query(listing).rows -%}
            {%- do second_look.update({row[0]: row}) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set entries = [] -%}
    {%- set subfolders = [] -%}
    {%- for row in first_look -%}
        {%- if '/' in row[1] -%}
            {%- set subfolder = row[1].split('/')[0] -%}
            {%- if subfolder not in ('registry', 'erasures') and subfolder not in subfolders -%}
                {%- do subfolders.append(subfolder) -%}
                {%- do entries.append({'source_file': folder ~ '/' ~ subfolder, 'entry_kind': 'directory',
                    'file_size_bytes': none, 'file_modified_at': none, 'detail': 'a directory'}) -%}
            {%- endif -%}
        {%- elif row[5] < settle and row[0] not in whole and (second_look.get(row[0]) is none
            or (second_look[row[0]][2], second_look[row[0]][4]) != (row[2], row[4])) -%}
            {%- set again = second_look.get(row[0]) -%}
            {%- do entries.append({'source_file': row[0], 'entry_kind': 'settling',
                'file_size_bytes': (again or row)[2], 'file_modified_at': (again or row)[3],
                'detail': 'changed during the ' ~ settle ~ ' s settle interval ('
                    ~ (row[2] ~ ' -> ' ~ again[2] ~ ' bytes' if again else 'gone') ~ '): still being written'}) -%}
        {%- else -%}
            {%- do entries.append({'source_file': row[0], 'entry_kind': 'file', 'file_size_bytes': row[2],
                'file_modified_at': row[3], 'detail': none}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if entries | length == 0 -%}
        {{ log('No files in the landing folder ' ~ landing_path, info=true) }}
    {%- endif -%}
    {{ return(entries | sort(attribute='source_file')) }}
{% endmacro %}
