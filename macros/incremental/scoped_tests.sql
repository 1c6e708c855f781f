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
    row of those files, earlier versions included, so a line kept twice still fails a grain test,
    and the files an earlier build's file-scoped test failed on, until it passes
    (bronze.files_failing_tests, macros/incremental/retest_files_of_failed_tests.sql).
    On a full refresh it is `true`.

    The RUL truth mapping (int_rul_truth_mapped, a view computed per dataset) is tested for the
    datasets whose truth <model> (int_unit_context_hashes) digests in the build:
    `__rul_datasets_digested_by_<model>__` becomes `(dataset between ... and dataset in (...))`, the datasets with a RUL file
    landed in bronze, or a test unit named by int_unit_reading_changes, since <model>'s watermark
    (chosen as above; macros/incremental/unit_context_changes.sql's rul_datasets_touched_since is the
    model's own copy of this query); `true` after a full refresh or before <model>'s first run,
    `false` when no dataset was touched.
    "This build" is the invocation's run_started_at, or the var `scoped_tests_build_started_at`
    (that timestamp, '%Y-%m-%d %H:%M:%S.%f') for a `dbt test` run after the build it tests: the
    watcher runs the warn-severity tests that way, after its tick's publish (lakehouse/watch.py).

    The registry versions (int_equipment_registry_versions, a view over the snapshot and the
    equipment-model catalogue) change only when one of those does: `__registry_digested_by_<model>__`
    becomes `true` when the registry's content mark differs from the one <model>
    (int_unit_context_hashes) stored when it last digested the registry (when this build is the one
    that stored it: when it differs from the one stored before), or there is none (a first build, a
    full refresh, Spark), else `false` (macros/incremental/unit_context_changes.sql's
    registry_content_mark is the model's own copy of the mark's query; should the two ever differ,
    the tests run every build, never fewer).
    Earlier builds tested in the same run (the watcher defers a tick's warn tests while another file
    is waiting, lakehouse/watch.py): the var `scoped_tests_earlier_builds` gives the scope those
    builds had, and each placeholder covers it as well as the build named above, never less:
    `units_since` ({model: the watermark the placeholders above would have used then, or none for
    every row}) lowers each model's watermark to the earliest; `files_since` (the earliest of those
    builds' run_started_at) makes the files placeholder `ingested_at >= files_since`; with
    `registry_changed` the registry placeholder is `true`.
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

{#- `where` with every `__units_rebuilt_by_<model>__` and `__rul_datasets_digested_by_<model>__` replaced by its predicate, then the registry and file placeholders (see above). -#}
{% macro expand_unit_scope(where) %}
    {#- the build whose writes are tested: this one, or the one named by the var (a later `dbt test`) -#}
    {%- set build_started_at = var('scoped_tests_build_started_at', none)
        or run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") -%}
    {#- the scope of earlier builds this run also tests (see above), or none -#}
    {%- set earlier = var('scoped_tests_earlier_builds', none) or {} -%}
    {%- set earlier_units = earlier.get('units_since') or {} -%}
    {#- a list as accumulator: a Jinja `set` inside a loop does not outlive the loop -#}
    {%- set expanded = [where] -%}
    {#- per placeholder kind: the column it filters, the query of the values changed since a watermark
        (`{since}`), and whether a full refresh tests every row without asking the watermark -#}
    {%- set scopes = [
        (
            'units_rebuilt_by', 'unit_id',
            "select distinct unit_id from (select unit_id, changed_at from silver.int_unit_change_log "
            ~ "union all select unit_id, changed_at from silver.int_unit_reading_changes) as changes "
            ~ "where unit_id is not null and changed_at > cast('{since}' as timestamp) order by unit_id",
            false,
        ),
        (
            'rul_datasets_digested_by', 'dataset',
            "select named.dataset from silver.int_unit_reading_changes as named "
            ~ "where named.changed_at > cast('{since}' as timestamp) and named.split = 'test' "
            ~ "union select landed.dataset from bronze.base_cmapss__landed_lines as landed "
            ~ "where landed.ingested_at > cast('{since}' as timestamp) "
            ~ "and landed.file_kind = 'rul_truth' and landed.dataset is not null order by 1",
            true,
        ),
    ] -%}
    {%- for kind, column, changed_query, all_on_full_refresh in scopes -%}
    {%- for model_name in modules.re.findall('__' ~ kind ~ '_([a-z0-9_]+?)__', where) | unique -%}
        {%- set predicate = ['true'] -%}
        {#- an earlier build tested here read every row (its watermark none): every row -#}
        {%- set every_row_earlier = model_name in earlier_units and earlier_units[model_name] is none -%}
        {#- no watermark table yet (compiling before any build: dbt compile, sqlfluff): every row -#}
        {%- if execute and not every_row_earlier and not (all_on_full_refresh and flags.FULL_REFRESH)
            and adapter.get_relation(
                database=target.database, schema='silver', identifier='unit_change_watermarks') is not none -%}
            {%- set this_build = (
                "nullif(case when updated_at = cast('" ~ build_started_at
                ~ "' as timestamp) then previous_processed_through else processed_through end,"
                ~ " cast('-infinity' as timestamp))"
            ) -%}
            {%- set watermark = run_query(
                "select "
                ~ (
                    "case when " ~ this_build ~ " is not null then least(" ~ this_build ~ ", cast('"
                    ~ earlier_units[model_name] ~ "' as timestamp)) end"
                    if model_name in earlier_units else this_build
                )
                ~ " from silver.unit_change_watermarks where model_name = '" ~ model_name ~ "'"
            ) -%}
            {#- no row (never run) or -infinity (a full refresh): every row -#}
            {%- set since = watermark.rows[0][0] if watermark.rows | length > 0 else none -%}
            {%- if since is not none -%}
                {%- set values = run_query(changed_query.replace('{since}', since | string)).columns[0].values() -%}
                {%- set quoted = [] -%}
                {%- for value in values -%}
                    {%- do quoted.append("'" ~ value | replace("'", "''") ~ "'") -%}
                {%- endfor -%}
                {#- the range first, as unit_id_in does: zone maps skip the other row groups, and DuckDB
                    carries a constant range (not an IN list) through a view's joins to every scan -#}
                {%- do predicate.append(
                    '(' ~ column ~ ' between ' ~ quoted[0] ~ ' and ' ~ quoted[-1] ~ ' and ' ~ column
                    ~ ' in (' ~ quoted | join(', ') ~ '))'
                    if quoted else 'false'
                ) -%}
            {%- endif -%}
        {%- endif -%}
        {%- do expanded.append(expanded[-1].replace('__' ~ kind ~ '_' ~ model_name ~ '__', predicate[-1])) -%}
    {%- endfor -%}
    {%- endfor -%}
    {%- for model_name in modules.re.findall('__registry_digested_by_([a-z0-9_]+?)__', where) | unique -%}
        {%- set predicate = ['true'] -%}
        {%- if execute and not flags.FULL_REFRESH and not earlier.get('registry_changed') and adapter.get_relation(
            database=target.database, schema='silver', identifier='unit_context_input_marks') is not none -%}
            {#- unchanged: since the marks were written (by an earlier build), or, when the build tested
                wrote them, in that build (its mark equals the one before) -#}
            {%- set marks = run_query(
                "select case when stored.updated_at = cast('" ~ build_started_at ~ "' as timestamp) "
                ~ "then stored.previous_input_mark is not distinct from stored.input_mark "
                ~ "else stored.input_mark = current_mark.input_mark end "
                ~ "from silver.unit_context_input_marks as stored, ("
                ~ "select concat_ws('|', cast(count(*) as varchar), "
                ~ "coalesce(cast(bit_xor(hash(dbt_scd_id, dbt_valid_to, dbt_is_deleted)) as varchar), ''), "
                ~ "(select md5(coalesce(string_agg(cast(catalogue as varchar), '|' order by catalogue.equipment_model_code), '')) "
                ~ "from reference.equipment_models as catalogue)) as input_mark "
                ~ "from snapshots.snap_equipment_registry) as current_mark "
                ~ "where stored.input_name = 'registry'"
            ) -%}
            {%- if marks.rows | length > 0 and marks.rows[0][0] -%}
                {%- do predicate.append('false') -%}
            {%- endif -%}
        {%- endif -%}
        {%- do expanded.append(expanded[-1].replace('__registry_digested_by_' ~ model_name ~ '__', predicate[-1])) -%}
    {%- endfor -%}
    {%- if '__files_ingested_by_this_build__' in where -%}
        {%- set predicate = ['true'] -%}
        {#- no bronze table yet (compiling before any build: dbt compile, sqlfluff): every row, of which there are none -#}
        {%- if execute and not flags.FULL_REFRESH and adapter.get_relation(
            database=target.database, schema='bronze', identifier='base_cmapss__landed_lines') is not none -%}
            {#- ... and the files a file-scoped test failed on, until it passes (retest_files_of_failed_tests) -#}
            {%- set failing = adapter.get_relation(
                database=target.database, schema='bronze', identifier='files_failing_tests') is not none -%}
            {%- set files = run_query(
                "select distinct source_file from bronze.base_cmapss__landed_lines where ingested_at "
                ~ (">= cast('" ~ earlier.files_since if earlier.get('files_since') else "= cast('" ~ build_started_at)
                ~ "' as timestamp)"
                ~ (" union select source_file from bronze.files_failing_tests" if failing else "")
                ~ " order by 1"
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
