{#-
    The equipment registry extract (CSV with a header), typed. A missing extract reads as an
    empty table with the same columns, so a landing folder of real NASA files alone still builds
    (its units then show as unregistered). Once the registry history holds units, an extract with
    no rows stops the build at the snapshot (assert_registry_extract_not_lost, below).
-#}
{% macro read_registry_extract(path) %}
    {{ return(adapter.dispatch('read_registry_extract', 'pdm_lakehouse')(path)) }}
{% endmacro %}

{% macro duckdb__read_registry_extract(path) %}
    {%- set columns = {
        'dataset': 'varchar',
        'split': 'varchar',
        'unit_number': 'integer',
        'equipment_model_code': 'varchar',
        'site_code': 'varchar',
        'firmware_version': 'varchar',
        'commissioned_at': 'timestamp',
        'cycle_hours': 'double',
        'updated_at': 'timestamp',
    } -%}
    {%- if files_exist(path) %}
    {%- set in_file_order = registry_extract_columns_in_file_order(
        path, duckdb_registry_extract_header(path), columns.keys() | list) %}
    select {{ columns.keys() | join(', ') }}
    from read_csv(
        {{ sql_string(path) }},
        header = true,
        auto_detect = false,
        columns = { {%- for name in in_file_order %}'{{ name }}': '{{ columns[name] }}'{{ ", " if not loop.last }}{% endfor -%} },
        timestampformat = '%Y-%m-%d %H:%M:%S'
    )
    {%- else %}
    {{ empty_relation(columns) }}
    {%- endif %}
{% endmacro %}

{#-
    The extract's columns in the order of its header line. Both engines' CSV readers, given the
    columns and their types, read by position and ignore the header's names: an extract whose columns
    came in another order (site_code and firmware_version swapped) was read into the wrong columns and
    recorded in the history as a change of every unit. The header's names (`header_names`: a
    byte-order mark, quotes and spaces aside) must be `expected`, in any order; other names, a column
    missing or one more stop the build, naming the file and both lists. No header (an empty or missing
    file) reads as `expected`: no rows (the snapshot's pre-hook decides).
-#}
{% macro registry_extract_columns_in_file_order(path, header_names, expected) %}
    {%- set names = [] -%}
    {%- for name in header_names -%}
        {%- do names.append((name or '').lstrip('\ufeff').strip().strip('"').strip()) -%}
    {%- endfor -%}
    {%- if names | reject('equalto', '') | list | length == 0 or names == expected -%}{{ return(expected) }}{%- endif -%}
    {%- if names | sort == expected | sort -%}
        {{ log('Registry extract ' ~ path ~ ': its columns are in another order (' ~ names | join(',')
            ~ '), read by name', info=true) }}
        {{ return(names) }}
    {%- endif -%}
    {{ exceptions.raise_compiler_error(
        'The registry extract ' ~ path ~ ' has the header "' ~ names | join(',') ~ '"; expected the columns '
        ~ expected | join(',') ~ ' (in any order). Missing: ' ~ (expected | reject('in', names) | join(',') or 'none')
        ~ '; not expected: ' ~ (names | reject('in', expected) | join(',') or 'none')
        ~ '. Nothing was read from it: the registry history is left as it was. Correct the extract and build again.'
    ) }}
{% endmacro %}

{#- DuckDB: the names on the extract's first line, split at its commas (none before execution). -#}
{% macro duckdb_registry_extract_header(path) %}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set first_line_sql -%}
        select split_part(replace(content, chr(13), chr(10)), chr(10), 1)
        from read_text({{ sql_string(path) }})
    {%- endset -%}
    {{ return((run_query(first_line_sql).rows[0][0] or '').split(',')) }}
{% endmacro %}

{#- Spark: the CSV read through a table over its folder (spark_files_table: a missing extract
    reads as no rows), typed by the same columns in the order of the extract's header (read first,
    its first line as text: spark_registry_extract_header). Spark's CSV reader makes do with a line
    it cannot read as those columns (a value too many, dropped; a value not of its type, read as
    null; a number in Java's own syntax, '7d' or '0x1p3', read), where DuckDB's stops the build: such a
    line (one with a value past the header's columns, or such a number, in the header's table, or
    Spark's _corrupt_record) stops it here too, quoted. A trailing comma, which DuckDB reads past, aside. -#}
{% macro spark__read_registry_extract(path) %}
    {%- set columns = {
        'dataset': 'string',
        'split': 'string',
        'unit_number': 'integer',
        'equipment_model_code': 'string',
        'site_code': 'string',
        'firmware_version': 'string',
        'commissioned_at': 'timestamp',
        'cycle_hours': 'double',
        'updated_at': 'timestamp',
    } -%}
    {%- set folder = path.split('/')[:-1] | join('/') -%}
    {%- set name = path.split('/') | last -%}
    {%- set in_file_order = registry_extract_columns_in_file_order(
        path, spark_registry_extract_header(folder, name, columns | length), columns.keys() | list) -%}
    {%- set typed = {} -%}
    {%- for column in in_file_order %}{%- do typed.update({column: columns[column]}) -%}{%- endfor %}
    {%- do typed.update({'_corrupt_record': 'string'}) %}
    select {{ columns.keys() | join(', ') }}
    from {{ spark_files_table(
        'registry_extract', folder, name, 'csv', typed,
        {'header': 'true', 'timestampFormat': 'yyyy-MM-dd HH:mm:ss', 'columnNameOfCorruptRecord': '_corrupt_record'},
    ) }}
    where case
        when _corrupt_record is not null and not _corrupt_record rlike ',$' then raise_error(concat(
            {{ sql_string('The registry extract ' ~ path ~ ' has a line that does not read as the columns of its header ('
                ~ in_file_order | join(',') ~ ', typed: a value too many or too few, or one not of its type): ') }},
            _corrupt_record,
            {{ sql_string('. Nothing was read from it: the registry history is left as it was. '
                ~ 'Correct the extract and build again.') }}
        ))
        else true
    end
    union all
    -- a value too many: read as text, one line to a row (spark_registry_extract_header's table; with
    -- column pruning the typed read does not see it); a trailing comma reads as null there. And a
    -- number Java's parser reads but DuckDB's does not: a type suffix ('7d', '7.5f') or hexadecimal
    -- ('0x1p3'), which Spark's CSV reader took as 7.0 and 8.0
    select {% for column in columns %}null{{ ", " if not loop.last }}{% endfor %}
    from pdm_files.registry_extract_header
    where (
        field_{{ columns | length }} is not null
        {%- for column in in_file_order %}{% if columns[column] == 'double' %}
        or field_{{ loop.index0 }} rlike '[0-9.][dDfF][ \t]*$|[xX]'
        {%- endif %}{% endfor %}
    ) and raise_error(concat(
        {{ sql_string('The registry extract ' ~ path ~ ' has a line that does not read as the columns of its header ('
            ~ in_file_order | join(',') ~ ', typed: a value too many or too few, or one not of its type): ') }},
        concat_ws(',', {% for i in range(columns | length * 2) %}field_{{ i }}{{ ", " if not loop.last }}{% endfor %}),
        {{ sql_string('. Nothing was read from it: the registry history is left as it was. '
            ~ 'Correct the extract and build again.') }}
    )) is null
{% endmacro %}

{#- Spark: the fields of the extract's first line, as CSV text (a missing or empty extract: none;
    room for `expected_count` and as many more, so an added column shows). -#}
{% macro spark_registry_extract_header(folder, name, expected_count) %}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set fields = {} -%}
    {%- for i in range(expected_count * 2) %}{%- do fields.update({'field_' ~ i: 'string'}) -%}{%- endfor %}
    {%- set header = spark_files_table('registry_extract_header', folder, name, 'csv', fields, {'header': 'false'}) -%}
    {%- set rows = run_query('select * from ' ~ header ~ ' limit 1').rows -%}
    {{ return((rows[0] | list | reject('none') | list) if rows | length else []) }}
{% endmacro %}

{#-
    Pre-hook of snap_equipment_registry: an extract with no rows (missing, empty or header only,
    or PDM_LANDING_PATH pointing at the wrong folder) while the snapshot holds units in the
    registry would close every unit's history. Stop the build instead, naming the file; the
    snapshot and everything built from it keep their last good state. A snapshot that does not
    exist yet or holds no current unit (a landing folder that never had a registry) lets an
    empty extract through. Renders nothing when all is well.
    On Spark it guards int_equipment_registry_captures, the history read from the model
    snap_equipment_registry (`history_identifier`, in the same schema).
    It also brings a snapshot taken with the earlier configuration (timestamp strategy,
    hard_deletes='invalidate') up to this one: it adds the dbt_is_deleted column dbt requires.
    First of all, the extract must be whole (assert_registry_extract_whole, below).
-#}
{% macro assert_registry_extract_not_lost(extract_relation, history_identifier=none) %}
    {%- if execute -%}
        {{ assert_registry_extract_whole(var('registry_path')) }}
        {%- set history = adapter.get_relation(
            database=this.database, schema=this.schema, identifier=history_identifier or this.identifier) -%}
        {%- if history is not none -%}
            {%- set history_columns = adapter.get_columns_in_relation(history) | map(attribute='name') | list -%}
            {%- if 'dbt_is_deleted' not in history_columns -%}
                {#- a snapshot taken before hard_deletes='new_record' (dbt refuses it without this column):
                    its rows are not deletion rows; a unit it closed stays closed -#}
                {%- do run_query('alter table ' ~ history ~ ' add column dbt_is_deleted varchar') -%}
                {%- do run_query("update " ~ history ~ " set dbt_is_deleted = 'False'") -%}
            {%- endif -%}
            {%- set units_in_registry_sql -%}
                select count(*) from {{ history }}
                where dbt_valid_to is null and coalesce(dbt_is_deleted, 'False') != 'True'
            {%- endset -%}
            {%- set units_in_registry = run_query(units_in_registry_sql).rows[0][0] -%}
            {%- set extract_rows = run_query('select count(*) from ' ~ extract_relation).rows[0][0] -%}
            {%- if units_in_registry > 0 and extract_rows == 0 -%}
                {%- set path = var('registry_path') -%}
                {%- set state = 'has no rows (empty or header only)' if files_exist(path) else 'is missing' -%}
                {{ exceptions.raise_compiler_error(
                    'The registry extract ' ~ path ~ ' ' ~ state ~ ', but the registry history ('
                    ~ history.identifier ~ ') holds ' ~ units_in_registry ~ ' units: refusing to record every unit as '
                    ~ 'removed. The history is left as it was and nothing built from it is rebuilt. Restore the '
                    ~ 'extract (or point PDM_LANDING_PATH at the landing folder that holds it) and build again.'
                ) }}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}

{#-
    The extract is overwritten in place, so a build can find it half written: read then, the units
    not written yet would be recorded as removed from the registry (and put back by the next build),
    a cut-off last row as a change. As for the landed data files (list_landed_files), an extract
    modified less than var landing_settle_seconds ago is looked at again once it is that old (the
    build waits at most that long); changed in between, it is still being written: the build stops
    here, naming the file, nothing is read from it and the history is left as it was. The next
    build (`make watch`'s next look, which sees it changed) reads it whole. Renders nothing.
-#}
{% macro assert_registry_extract_whole(path) %}
    {%- if execute and files_exist(path) -%}
        {%- set folder, name = path.rstrip('/').rsplit('/', 1) -%}
        {%- for entry in list_landed_files(folder, var('landing_settle_seconds'))
            if entry.source_file.split('/') | last == name and entry.entry_kind == 'settling' -%}
            {{ exceptions.raise_compiler_error(
                'The registry extract ' ~ path ~ ' ' ~ entry.detail ~ '. Nothing was read from it: the registry '
                ~ 'history is left as it was and nothing built from it is rebuilt. Build again once it is whole '
                ~ '(make watch does, as soon as it next changes).'
            ) }}
        {%- endfor -%}
    {%- endif -%}
{% endmacro %}
