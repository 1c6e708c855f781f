{#- The Parquet files matching `pattern`, typed as `columns` (name -> type) plus source_file; no
    file yet reads as an empty table with the same columns. A file that is not a whole Parquet
    file (it lacks the `PAR1` magic bytes at either end: truncated, or still being written) is
    skipped with a warning naming it (`<what> file '…' skipped`), and every other file is read.
    Files are matched by column name: a column some files lack (written before it was added) reads
    as null there, and one no file has yet reads as null throughout.
    The files ML writes back (scores, drift figures) are read through it. -#}
{% macro read_whole_parquet_files(pattern, columns, what) %}
    {{ return(adapter.dispatch('read_whole_parquet_files', 'pdm_lakehouse')(pattern, columns, what)) }}
{% endmacro %}

{% macro duckdb__read_whole_parquet_files(pattern, columns, what) %}
    {%- set readable = [] -%}
    {%- if files_exist(pattern) -%}
        {%- set checked -%}
            select
                filename,
                size >= 12
                and starts_with(cast(content as varchar), 'PAR1')
                and suffix(cast(content as varchar), 'PAR1') as is_whole_parquet_file
            from read_blob({{ sql_string(pattern) }})
            order by filename
        {%- endset -%}
        {%- for row in run_query(checked).rows -%}
            {%- if row[1] -%}
                {%- do readable.append(row[0]) -%}
            {%- else -%}
                {%- do exceptions.warn("WARNING: " ~ what ~ " file '" ~ row[0] ~ "' skipped: not a whole Parquet "
                    ~ "file (truncated or still being written); every other " ~ what ~ " file is read") -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if readable | length > 0 %}
    {%- set files -%}
        [{%- for path in readable %}{{ sql_string(glob_literal(path)) }}{{ ", " if not loop.last }}{% endfor -%}]
    {%- endset %}
    {%- set present = run_query("select column_name from (describe select * from read_parquet("
        ~ files ~ ", union_by_name = true))").columns[0].values() | list %}
    select
        {%- for name, type in columns.items() %}
        cast({{ name if name in present else 'null' }} as {{ type }}) as {{ name }},
        {%- endfor %}
        filename as source_file
    from read_parquet({{ files }}, filename = true, union_by_name = true)
    {%- else %}
    {%- set typed = dict(columns) %}
    {%- do typed.update({'source_file': 'varchar'}) %}
    {{ empty_relation(typed) }}
    {%- endif %}
{% endmacro %}

{#- Spark: the files listed and checked for the magic bytes through a binaryFile table over their
    folder (spark_files_table), then each whole file read on its own (`parquet.`path``, the path
    as a glob that matches it alone: spark_glob_literal), its columns matched by name, and the
    reads put together. -#}
{% macro spark__read_whole_parquet_files(pattern, columns, what) %}
    {%- set folder = pattern.split('/')[:-1] | join('/') -%}
    {%- set readable = [] -%}
    {%- if execute -%}
        {%- set checked -%}
            select
                {{ spark_file_name('path', folder) }} as source_file,
                path,
                length >= 12
                and hex(substring(content, 1, 4)) = '50415231'
                and hex(substring(content, length - 3, 4)) = '50415231' as is_whole_parquet_file
            from {{ spark_files_table('parquet_files_' ~ what, folder, pattern.split('/') | last) }}
            where not contains({{ spark_path_below('path', folder) }}, '/')
            order by source_file
        {%- endset -%}
        {%- for row in run_query(checked).rows -%}
            {%- if row[2] -%}
                {%- do readable.append({'source_file': row[0], 'path': row[1]}) -%}
            {%- else -%}
                {%- do exceptions.warn("WARNING: " ~ what ~ " file '" ~ row[0] ~ "' skipped: not a whole Parquet "
                    ~ "file (truncated or still being written); every other " ~ what ~ " file is read") -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if readable | length > 0 %}
    {%- for file in readable %}
    {%- set present = run_query('describe query select * from parquet.`' ~ spark_glob_literal(file.path) ~ '`').columns[0].values() | list %}
    select
        {%- for name, type in columns.items() %}
        cast({{ name if name in present else 'null' }} as {{ 'string' if type == 'varchar' else type }}) as {{ name }},
        {%- endfor %}
        {{ sql_string(file.source_file) }} as source_file
    from parquet.`{{ spark_glob_literal(file.path) }}`
    {{ "union all" if not loop.last }}
    {%- endfor %}
    {%- else %}
    {%- set typed = dict(columns) %}
    {%- do typed.update({'source_file': 'varchar'}) %}
    {{ empty_relation(typed) }}
    {%- endif %}
{% endmacro %}

{#- Spark: a path as a Hadoop glob that matches that path alone, for a path read (`parquet.`path``),
    which Spark expands as a glob: `scores_2026 [1].parquet` read `scores_2026 1.parquet` under its
    name, and its own scores were lost. Each glob character is escaped with a backslash, and a backtick
    doubled (the path is a quoted identifier). -#}
{% macro spark_glob_literal(path) -%}
    {%- set escaped = namespace(text='') -%}
    {%- for character in path -%}
        {%- set escaped.text = escaped.text ~ ('\\' if character in '\\[]{}*?' else '') ~ ('``' if character == '`' else character) -%}
    {%- endfor -%}
    {{ return(escaped.text) }}
{%- endmacro %}
