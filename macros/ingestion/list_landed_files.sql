{#-
    The landing folder's files (top level only; the registry lives in a subfolder), with the
    metadata the checkpoint compares: path, size, modification time. Reads no file content.
    Returns a list of dicts; an empty or missing folder gives an empty list.
-#}
{% macro list_landed_files(landing_path) %}
    {{ return(adapter.dispatch('list_landed_files', 'pdm_lakehouse')(landing_path)) }}
{% endmacro %}

{% macro duckdb__list_landed_files(landing_path) %}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set pattern = landing_path.rstrip('/') ~ '/*' -%}
    {%- if not files_exist(pattern) -%}
        {{ log('No files in the landing folder ' ~ landing_path, info=true) }}
        {{ return([]) }}
    {%- endif -%}
    {%- set listing -%}
        select
            filename as source_file,
            size as file_size_bytes,
            cast(last_modified as timestamp) as file_modified_at
        from read_blob({{ sql_string(pattern) }})
        order by source_file
    {%- endset -%}
    {%- set files = [] -%}
    {%- for row in run_query(listing).rows -%}
        {%- do files.append({
            'source_file': row[0],
            'file_size_bytes': row[1],
            'file_modified_at': row[2] | string,
        }) -%}
    {%- endfor -%}
    {{ return(files) }}
{% endmacro %}
