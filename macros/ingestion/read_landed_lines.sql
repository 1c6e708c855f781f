{#-
    One row per physical line of each given file, with its 1-based line number and the raw
    text (a leading UTF-8 BOM dropped). A line ends at LF, CRLF or a lone CR (an old Mac file): CRs
    just before an LF are part of that one line break (as a line's trailing CRs always were), a CR
    anywhere else is a line break of its own, and line numbers count every break. Files are decoded as UTF-8 line
    by line: a line that is not UTF-8 keeps its bytes in raw_line as text, each byte outside
    printable ASCII written `\xNN`, and `line_error` says so; the file's other lines read as usual.
    A file with no readable line (empty; binary, that is holding a NUL byte; or with no line that
    is UTF-8 text) yields one file-level row instead: line_number 0, raw_line null and
    `file_error` saying why, so that no landed file ever leaves no trace.
    With no files it yields no rows, with the same columns.

    read_landed_files(files) gives the file-level facts alone, one row per file (source_file,
    file_size_bytes, file_modified_at, file_content_md5, file_error), from the same reading: what a
    model needs to know about a batch's files (duplicates, errors) without holding its lines. Each
    file's content is read, decoded and split one file at a time, so memory follows the largest
    file, not the batch.
-#}
{% macro read_landed_lines(files) %}
    {{ return(adapter.dispatch('read_landed_lines', 'pdm_lakehouse')(files)) }}
{% endmacro %}

{% macro duckdb__landed_file_contents(files) %}
    with files as (
        select
            filename as source_file,
            size as file_size_bytes,
            cast(last_modified as timestamp) as file_modified_at,
            md5(content) as file_content_md5,
            try(decode(content)) as file_text,
            -- only for files that are not UTF-8 as a whole: the bytes as text, every byte outside
            -- printable ASCII (a backslash and a newline included) written \xNN
            case when try(decode(content)) is null then cast(content as varchar) end as escaped_text
        from read_blob([
            {%- for f in files %}{{ sql_string(glob_literal(f.source_file)) }}{{ ", " if not loop.last }}{% endfor -%}
        ])
    ),

    split_into_lines as (
        select
            source_file,
            file_size_bytes,
            file_modified_at,
            file_content_md5,
            file_text is null as is_escaped,
            -- a line break is LF, CRs then LF (CRLF), or a lone CR; a file with no CR is split on LF alone
            case
                when file_text = '' then []
                when file_text is not null and contains(file_text, chr(13))
                    then regexp_split_to_array(file_text, '\r*\n|\r')
                when file_text is not null then string_split(file_text, chr(10))
                when contains(escaped_text, '\x00') then []  -- binary
                when contains(escaped_text, '\x0D')
                    then regexp_split_to_array(escaped_text, '(\\x0D)*\\x0A|\\x0D')
                else string_split(escaped_text, '\x0A')
            end as split_text,
            case
                when file_text = '' then 'file is empty'
                when file_text is null and contains(escaped_text, '\x00')
                    then 'file is not UTF-8 text (binary: it holds NUL bytes)'
            end as empty_or_binary
        from files
    ),

    split_at_breaks as (
        select
            * exclude (split_text),
            -- the text after a final line break is not a line
            case when split_text[-1] = '' then split_text[:-2] else split_text end as lines
        from split_into_lines
    ),

    judged as (
        select
            *,
            -- a file of which no line (blank ones aside) is UTF-8 text is binary or in another
            -- encoding: rejected whole
            case
                when len(lines) = 0 then empty_or_binary
                when is_escaped and len(list_filter(lines, l -> trim(coalesce(try(decode(cast(l as blob))), '')) != '')) = 0
                    then 'file is not UTF-8 text (binary or another encoding)'
            end as file_error
        from split_at_breaks
    )
{% endmacro %}

{% macro read_landed_files(files) %}
    {%- if files | length == 0 %}
    {{ empty_relation(landed_file_columns()) }}
    {%- else %}
    {{ adapter.dispatch('landed_file_contents', 'pdm_lakehouse')(files) }}

    select
        source_file,
        file_size_bytes,
        file_modified_at,
        file_content_md5,
        file_error
    from judged
    {%- endif %}
{% endmacro %}

{#- The file-level columns of read_landed_files, and with the line-level ones those of
    read_landed_lines, with their types: what an empty batch gives. -#}
{% macro landed_file_columns() %}
    {{ return({
        'source_file': 'varchar',
        'file_size_bytes': 'bigint',
        'file_modified_at': 'timestamp',
        'file_content_md5': 'varchar',
        'file_error': 'varchar',
    }) }}
{% endmacro %}

{% macro landed_line_columns() %}
    {{ return({
        'source_file': 'varchar',
        'file_size_bytes': 'bigint',
        'file_modified_at': 'timestamp',
        'file_content_md5': 'varchar',
        'line_number': 'integer',
        'raw_line': 'varchar',
        'file_error': 'varchar',
        'line_error': 'varchar',
    }) }}
{% endmacro %}

{% macro duckdb__read_landed_lines(files) %}
    {%- if files | length == 0 %}
    {{ empty_relation(landed_line_columns()) }}
    {%- else %}
    {{ duckdb__landed_file_contents(files) }},

    unnested_lines as (
        -- one pass over `judged` (a second reader of it would hold every file's lines at once): a
        -- file with an error unnests to its one file-level row, line 0 with no text
        select
            source_file,
            file_size_bytes,
            file_modified_at,
            file_content_md5,
            is_escaped,
            file_error,
            unnest(case when file_error is null then generate_series(1, len(lines)) else [0] end) as line_number,
            unnest(case when file_error is null then lines else [cast(null as varchar)] end) as line_text
        from judged
    ),

    decoded_lines as (
        select
            * exclude (line_text),
            case when is_escaped then try(decode(cast(line_text as blob))) else line_text end as decoded_text,
            line_text
        from unnested_lines
    )

    select
        source_file,
        file_size_bytes,
        file_modified_at,
        file_content_md5,
        cast(line_number as integer) as line_number,
        case
            when file_error is not null then null
            when decoded_text is null then line_text
            when line_number = 1 then ltrim(decoded_text, chr(65279))
            else decoded_text
        end as raw_line,
        file_error,
        case
            when file_error is null and decoded_text is null
                then 'line is not UTF-8 text (bytes outside printable ASCII shown as \xNN)'
        end as line_error
    from decoded_lines
    {%- endif %}
{% endmacro %}

{#- Spark: Spark's binaryFile source gives each file's path, modification time, size and content
    in one scan (spark_files_table: a table over the landing folder). A file that is UTF-8 as a
    whole is split into lines as text; one that is not is split on its LF and CR bytes (each byte
    written `<HH>` so a line break is found on a byte boundary), and each line decoded on its own,
    kept as `\xNN` escapes (DuckDB's blob-as-text form: bytes outside printable ASCII, a
    backslash and quotes) when it is not UTF-8. Modification times are whole seconds, as
    DuckDB's listing reports them, so file versions are keyed alike on both engines. -#}
{% macro spark__landed_file_contents(files) %}
    {%- set folder = files[0].source_file.split('/')[:-1] | join('/') %}
    {%- set contents = spark_files_table('landing_contents', folder) %}
    with files as (
        select
            {{ spark_file_name('path', folder) }} as source_file,
            length as file_size_bytes,
            timestamp_seconds(floor(unix_millis(modificationtime) / 1000)) as file_modified_at,
            md5(content) as file_content_md5,
            case when is_valid_utf8(cast(content as string)) then cast(content as string) end as file_text,
            -- only for files that are not UTF-8 as a whole: each byte as <HH>
            case
                when not is_valid_utf8(cast(content as string)) then regexp_replace(hex(content), '(..)', '<$1>')
            end as byte_text
        from {{ contents }}
        where not contains({{ spark_path_below('path', folder) }}, '/')
            and {{ spark_file_name('path', folder) }} in (
                {%- for f in files %}{{ sql_string(f.source_file) }}{{ ", " if not loop.last }}{% endfor -%}
            )
    ),

    split_into_lines as (
        select
            source_file,
            file_size_bytes,
            file_modified_at,
            file_content_md5,
            file_text is null as is_escaped,
            -- a line break is LF, CRs then LF (CRLF), or a lone CR
            case
                when file_text = '' then array()
                when file_text is not null then split(file_text, '\r*\n|\r', -1)
                when instr(byte_text, '<00>') > 0 then array()  -- binary
                else split(byte_text, '(<0D>)*<0A>|<0D>', -1)
            end as split_text,
            case
                when file_text = '' then 'file is empty'
                when file_text is null and instr(byte_text, '<00>') > 0
                    then 'file is not UTF-8 text (binary: it holds NUL bytes)'
            end as empty_or_binary
        from files
    ),

    split_at_breaks as (
        select
            *,
            -- the text after a final line break is not a line
            case
                when try_element_at(split_text, -1) = '' then slice(split_text, 1, size(split_text) - 1)
                else split_text
            end as lines
        from split_into_lines
    ),

    judged as (
        select
            *,
            -- a file of which no line (blank ones aside) is UTF-8 text is binary or in another
            -- encoding: rejected whole
            case
                when size(lines) = 0 then empty_or_binary
                when is_escaped and size(filter(lines, l -> trim(coalesce({{ spark__decoded_line('l') }}, '')) != '')) = 0
                    then 'file is not UTF-8 text (binary or another encoding)'
            end as file_error
        from split_at_breaks
    )
{% endmacro %}

{#- Spark: a line of <HH> bytes as text when it is UTF-8, else null. -#}
{% macro spark__decoded_line(line) -%}
    case
        when is_valid_utf8(cast(unhex(regexp_replace({{ line }}, '[<>]', '')) as string))
            then cast(unhex(regexp_replace({{ line }}, '[<>]', '')) as string)
    end
{%- endmacro %}

{#- Spark: a line of <HH> bytes written as DuckDB writes a blob as text: printable ASCII as is, every
    other byte (a backslash and quotes included) as \xNN. -#}
{% macro spark__escaped_line(line) -%}
    array_join(
        transform(
            split(regexp_replace({{ line }}, '^<|>$', ''), '><', -1),
            h -> case
                when h = '' then ''
                when cast(conv(h, 16, 10) as int) between 32 and 126 and h not in ('5C', '27', '22')
                    then decode(unhex(h), 'US-ASCII')
                else concat('\x', h)
            end
        ),
        ''
    )
{%- endmacro %}

{% macro spark__read_landed_lines(files) %}
    {%- if files | length == 0 %}
    {{ empty_relation(landed_line_columns()) }}
    {%- else %}
    {{ spark__landed_file_contents(files) }},

    unnested_lines as (
        -- a file with an error unnests to its one file-level row, line 0 with no text
        select
            source_file,
            file_size_bytes,
            file_modified_at,
            file_content_md5,
            is_escaped,
            file_error,
            posexplode(case when file_error is null then lines else array(cast(null as string)) end)
                as (line_index, line_text)
        from judged
    ),

    decoded_lines as (
        select
            *,
            case when file_error is null then line_index + 1 else 0 end as line_number,
            case when is_escaped then {{ spark__decoded_line('line_text') }} else line_text end as decoded_text
        from unnested_lines
    )

    select
        source_file,
        file_size_bytes,
        file_modified_at,
        file_content_md5,
        cast(line_number as integer) as line_number,
        case
            when file_error is not null then null
            when decoded_text is null then {{ spark__escaped_line('line_text') }}
            when line_number = 1 then trim(leading decode(unhex('EFBBBF'), 'UTF-8') from decoded_text)
            else decoded_text
        end as raw_line,
        file_error,
        case
            when file_error is null and decoded_text is null
                then 'line is not UTF-8 text (bytes outside printable ASCII shown as \xNN)'
        end as line_error
    from decoded_lines
    {%- endif %}
{% endmacro %}

{#- A path as a DuckDB glob that matches that path alone: read_blob expands `*`, `?` and `[...]` in the
    paths it is given, so a landed `train_FD101_*.txt` also read every `train_FD101_….txt` beside it
    (their lines taken twice) and `train_FD101_[1].txt` read `train_FD101_1.txt` under its name. Each
    of those characters is put in a class of its own (`[` first: the others' classes hold one). -#}
{% macro glob_literal(path) -%}
    {{ return(path.replace('[', '[[]').replace('*', '[*]').replace('?', '[?]')) }}
{%- endmacro %}
