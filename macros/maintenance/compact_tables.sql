{#-
    `dbt run-operation compact_tables`: the row-group compaction that builds run without vacuum skipped.

    A DuckDB checkpoint vacuums the tables it writes: it merges adjacent row groups whose live rows fit
    in fewer (dropping the rows deleted since) and drops empty ones. `make watch`'s ticks build with
    DuckDB's `max_vacuum_tasks` at 0 (PDM_DUCKDB_MAX_VACUUM_TASKS, profiles.yml), so a tick's checkpoint
    writes only what the tick appended: a merge rewrites up to three row groups of every column
    (0.5-2.5 s on the 2 M fleet's feature table, on the latency path of one tick in three). The watcher
    runs this operation at a quiet moment instead (lakehouse/watch.py).

    DuckDB vacuums only the tables a checkpoint writes (those changed since the last checkpoint), so
    each candidate is marked for it: in one transaction, one value of one row is changed and changed
    back from a copy (the table's content is unchanged; an update to the same value does not count,
    and moving a row would leave a row group of one row at the end). Then one CHECKPOINT
    compacts them all, with the profile's row group size (the warehouse's ATTACH option: a session
    attached without it would merge to DuckDB's default size) and its `max_vacuum_tasks`.

    Candidates: the base tables of the target database with more than one row group, no index
    (DuckDB never vacuums a table with one: the contracts' primary keys), no constraint the changed
    value could break (unique, foreign key, check) and a column of a type with a changed value at hand
    (numbers, text, dates and timestamps: every table here). Logs the row groups of those whose count
    changed. Other engines: nothing to do (Spark writes whole files).
-#}
{% macro compact_tables() %}
    {{ return(adapter.dispatch('compact_tables', 'pdm_lakehouse')()) }}
{% endmacro %}

{% macro default__compact_tables() %}
    {% do log("compact_tables: nothing to compact on " ~ target.type, info=true) %}
{% endmacro %}

{% macro duckdb__compact_tables() %}
    {%- set database = target.database %}
    {#- outside dbt's transaction (auto_begin=False): each mark commits on its own, and CHECKPOINT
        can't run inside a transaction #}
    {%- call statement('compaction_candidates', fetch_result=True, auto_begin=False) %}
        with columns as (
            select
                schema_name,
                table_name,
                column_name,
                column_index,
                case
                    when data_type in ('TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT') then 'integer'
                    when data_type in ('FLOAT', 'DOUBLE') or data_type like 'DECIMAL%' then 'number'
                    when data_type = 'VARCHAR' then 'text'
                    when data_type in ('DATE', 'TIMESTAMP', 'TIMESTAMP WITH TIME ZONE') then 'time'
                end as kind
            from duckdb_columns()
            where database_name = {{ sql_string(database) }}
        )
        select t.schema_name, t.table_name, arg_min(c.column_name, c.column_index), arg_min(c.kind, c.column_index)
        from duckdb_tables() as t
        inner join columns as c
            on c.schema_name = t.schema_name and c.table_name = t.table_name and c.kind is not null
        where t.database_name = {{ sql_string(database) }}
            and not t.temporary
            and not t.has_primary_key
            and t.index_count = 0
            and t.check_constraint_count = 0
            and not exists (
                select 1
                from duckdb_constraints() as k
                where k.database_name = t.database_name
                    and k.schema_name = t.schema_name
                    and k.table_name = t.table_name
                    and k.constraint_type in ('UNIQUE', 'FOREIGN KEY', 'CHECK')
            )
        group by all
        order by 1, 2
    {%- endcall %}
    {%- set changed_value = {
        'integer': '~ {c}', 'number': '- {c}', 'text': "{c} || '.'", 'time': "{c} + interval 1 day",
    } %}
    {%- set marked = [] %}
    {%- for schema, table, column, kind in load_result('compaction_candidates').table.rows %}
        {%- set relation = api.Relation.create(database=database, schema=schema, identifier=table) %}
        {%- set before = pdm_row_group_count(relation) %}
        {%- if before > 1 %}
            {%- set quoted = adapter.quote(column) %}
            {%- call statement('compaction_mark', auto_begin=False) %}
                begin transaction;
                create temporary table pdm_compaction_row as
                    select rowid as row_id, {{ quoted }} as value
                    from {{ relation }}
                    where {{ quoted }} is not null
                    order by rowid desc
                    limit 1;
                update {{ relation }} set {{ quoted }} = {{ changed_value[kind].replace('{c}', quoted) }}
                where rowid = (select row_id from pdm_compaction_row);
                update {{ relation }} set {{ quoted }} = (select value from pdm_compaction_row)
                where rowid = (select row_id from pdm_compaction_row);
                drop table pdm_compaction_row;
                commit;
            {%- endcall %}
            {%- do marked.append((schema ~ '.' ~ table, relation, before)) %}
        {%- endif %}
    {%- endfor %}
    {%- call statement('compaction_checkpoint', auto_begin=False) %}
        checkpoint {{ adapter.quote(database) }}
    {%- endcall %}
    {%- set changes = [] %}
    {%- for name, relation, before in marked %}
        {%- set after = pdm_row_group_count(relation) %}
        {%- if after != before %}
            {%- do changes.append(name ~ ' ' ~ before ~ ' -> ' ~ after) %}
        {%- endif %}
    {%- endfor %}
    {% do log(
        "compact_tables: " ~ marked | length ~ " tables checkpointed with vacuum; row groups: "
        ~ (changes | join(', ') if changes else 'none merged'),
        info=true
    ) %}
{% endmacro %}

{#- The number of row groups of a DuckDB table (`relation`: a dbt Relation). -#}
{% macro pdm_row_group_count(relation) %}
    {%- call statement('pdm_row_group_count', fetch_result=True, auto_begin=False) %}
        select count(distinct row_group_id) from pragma_storage_info({{ sql_string(relation.render()) }})
    {%- endcall %}
    {{ return(load_result('pdm_row_group_count').table.rows[0][0]) }}
{% endmacro %}
