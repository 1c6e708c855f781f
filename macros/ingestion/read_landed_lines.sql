{#-
    One row per physical line of each given file, with its 1-based line number and the raw
    text (a trailing CR stripped, a leading UTF-8 BOM dropped). A file with no readable line
    (empty, or not UTF-8 text) yields one file-level row: line_number 0, raw_line null and
    `file_error` saying why, so that no landed file ever leaves no trace.
    With no files it yields no rows, with the same columns.
-#}
{% macro read_landed_lines(files) %}
    {{ return(adapter.dispatch('read_landed_lines', 'pdm_lakehouse')(files)) }}
{% endmacro %}

{% macro duckdb__read_landed_lines(files) %}
    {%- if files | length == 0 %}
    {{ empty_relation({
        'source_file': 'varchar',
        'file_size_bytes': 'bigint',
        'file_modified_at': 'timestamp',
        'file_content_md5': 'varchar',
        'line_number': 'integer',
        'raw_line': 'varchar',
        'file_error': 'varchar',
    }) }}
    {%- else %}
    with files as (
        select
            filename as source_file,
            size as file_size_bytes,
            cast(last_modified as timestamp) as file_modified_at,
            md5(content) as file_content_md5,
            try(decode(content)) as file_text
        from read_blob([
            {%- for f in files %}{{ sql_string(f.source_file) }}{{ ", " if not loop.last }}{% endfor -%}
        ])
    ),

    split_into_lines as (
        select
            source_file,
            file_size_bytes,
            file_modified_at,
            file_content_md5,
            file_text,
            -- the text after a final newline is not a line
            case
                when file_text is null or file_text = '' then []
                when suffix(file_text, chr(10))
                    then string_split(left(file_text, length(file_text) - 1), chr(10))
                else string_split(file_text, chr(10))
            end as lines
        from files
    ),

    text_lines as (
        select
            source_file,
            file_size_bytes,
            file_modified_at,
            file_content_md5,
            unnest(generate_series(1, len(lines))) as line_number,
            unnest(lines) as raw_line
        from split_into_lines
        where len(lines) > 0
    ),

    file_level_rows as (
        select
            source_file,
            file_size_bytes,
            file_modified_at,
            file_content_md5,
            0 as line_number,
            cast(null as varchar) as raw_line,
            case
                when file_text is null then 'file is not UTF-8 text (binary or another encoding)'
                else 'file is empty'
            end as file_error
        from split_into_lines
        where len(lines) = 0
    )

    select
        source_file,
        file_size_bytes,
        file_modified_at,
        file_content_md5,
        cast(line_number as integer) as line_number,
        case
            when line_number = 1 then ltrim(rtrim(raw_line, chr(13)), chr(65279))
            else rtrim(raw_line, chr(13))
        end as raw_line,
        cast(null as varchar) as file_error
    from text_lines
    union all
    select * from file_level_rows
    {%- endif %}
{% endmacro %}
