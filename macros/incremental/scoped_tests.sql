{#-
    Data tests of the per-unit models check the units the build rewrote, not the whole history:
    a test's `where:` (or equal_row_count's `compare_where:`) may hold the placeholder
    `__units_rebuilt_by_<model>__`, which becomes `(unit_id between ... and unit_id in (...))`: the
    units the change logs (int_unit_reading_changes, int_unit_change_log) hold since <model>'s
    watermark. When <model> has already run in this build (its tests), that is the watermark it
    had before (previous_processed_through): the units it just rewrote. When it has not yet (the
    views upstream of fct_unit_cycle_features, tested before it runs; they depend on the change
    log, so this build's rows are there), it is its current watermark: the units it is about to
    rewrite, i.e. the rows of the views it will read. Rows of other units were not written (or
    read) by this build and passed these tests when they were. After a full refresh (or on the
    first build) the placeholder is `true`: every row is checked; with nothing to rewrite it is
    `false`.

    The bronze tables grow with every landing and are rewritten per file, not per unit: their
    tests use `__files_ingested_by_this_build__`, which becomes `source_file in (...)`: the files
    a version of which this build ingested (its lines carry this build's ingested_at), with every
    row of those files, earlier versions included, so a line kept twice still fails a grain test.
    On a full refresh it is `true`.
    One macro with no calls into other project macros: a test's context only knows the macros
    it depends on directly.
-#}

{%- macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ expand_unit_scope(where) }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro -%}

{#- `where` with every `__units_rebuilt_by_<model>__` replaced by its predicate on unit_id. -#}
{% macro expand_unit_scope(where) %}
    {#- a list as accumulator: a Jinja `set` inside a loop does not outlive the loop -#}
    {%- set expanded = [where] -%}
    {%- for model_name in modules.re.findall('__units_rebuilt_by_([a-z0-9_]+?)__', where) | unique -%}
        {%- set predicate = ['true'] -%}
        {#- no watermark table yet (compiling before any build: dbt compile, sqlfluff): every row -#}
        {%- if execute and adapter.get_relation(
            database=target.database, schema='silver', identifier='unit_change_watermarks') is not none -%}
            {%- set watermark = run_query(
                "select nullif(case when updated_at = cast('" ~ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f")
                ~ "' as timestamp) then previous_processed_through else processed_through end,"
                ~ " cast('-infinity' as timestamp))"
                ~ " from silver.unit_change_watermarks where model_name = '" ~ model_name ~ "'"
            ) -%}
            {#- no row (never run) or -infinity (a full refresh): every row -#}
            {%- set since = watermark.rows[0][0] if watermark.rows | length > 0 else none -%}
            {%- if since is not none -%}
                {%- set units = run_query(
                    "select distinct unit_id from (select unit_id, changed_at from silver.int_unit_change_log "
                    ~ "union all select unit_id, changed_at from silver.int_unit_reading_changes) as changes "
                    ~ "where unit_id is not null and changed_at > cast('" ~ since ~ "' as timestamp) order by unit_id"
                ).columns[0].values() -%}
                {%- set quoted = [] -%}
                {%- for unit in units -%}
                    {%- do quoted.append("'" ~ unit | replace("'", "''") ~ "'") -%}
                {%- endfor -%}
                {#- the range first, as unit_id_in does: zone maps skip the other units' row groups -#}
                {%- do predicate.append(
                    '(unit_id between ' ~ quoted[0] ~ ' and ' ~ quoted[-1] ~ ' and unit_id in (' ~ quoted | join(', ') ~ '))'
                    if quoted else 'false'
                ) -%}
            {%- endif -%}
        {%- endif -%}
        {%- do expanded.append(expanded[-1].replace('__units_rebuilt_by_' ~ model_name ~ '__', predicate[-1])) -%}
    {%- endfor -%}
    {%- if '__files_ingested_by_this_build__' in where -%}
        {%- set predicate = ['true'] -%}
        {#- no bronze table yet (compiling before any build: dbt compile, sqlfluff): every row, of which there are none -#}
        {%- if execute and not flags.FULL_REFRESH and adapter.get_relation(
            database=target.database, schema='bronze', identifier='base_cmapss__landed_lines') is not none -%}
            {%- set files = run_query(
                "select distinct source_file from bronze.base_cmapss__landed_lines where ingested_at = cast('"
                ~ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") ~ "' as timestamp) order by 1"
            ).columns[0].values() -%}
            {%- set quoted = [] -%}
            {%- for source_file in files -%}
                {%- do quoted.append("'" ~ source_file | replace("'", "''") ~ "'") -%}
            {%- endfor -%}
            {%- do predicate.append('source_file in (' ~ quoted | join(', ') ~ ')' if quoted else 'false') -%}
        {%- endif -%}
        {%- do expanded.append(expanded[-1].replace('__files_ingested_by_this_build__', predicate[-1])) -%}
    {%- endif -%}
    {{ return(expanded[-1]) }}
{% endmacro %}
