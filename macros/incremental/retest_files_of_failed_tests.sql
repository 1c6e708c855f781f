{#-
    A failing data test of the landed files keeps failing at the next builds, until what it caught
    is mended.

    The bronze and staging tests check the files a build ingested (`__files_ingested_by_this_build__`,
    macros/incremental/scoped_tests.sql), and ingestion is exactly once: a next build with nothing
    new reads none of those files again, so those tests would check nothing and pass, and the models
    downstream (skipped by the failing build) would take the rows the test caught. This on-run-end
    hook keeps, in bronze.files_failing_tests, the files each failing (status fail or error) file-scoped
    test checked; the placeholder adds them to every later build's scope, so the tests check them
    again, and fail, and everything downstream stays skipped (the last good state), until the rows
    pass: a corrected file landed (a version with new content replaces the file's rows in staging; the
    same content landed again is kept as a duplicate, not read), or the bug fixed and
    `dbt build --full-refresh`. A file-scoped test that passes (or only warns) has checked
    those files: its rows are dropped. Rows of a test no longer in the project (renamed, removed) are
    dropped once a build's file-scoped tests ran, those files in their scope, and none failed.
    Spark: a no-op; bronze there is rebuilt whole at every build, so every file is in every scope.
-#}
{% macro retest_files_of_failed_tests(results) %}
    {{ return(adapter.dispatch('retest_files_of_failed_tests', 'pdm_lakehouse')(results)) }}
{% endmacro %}

{% macro spark__retest_files_of_failed_tests(results) %}{% endmacro %}

{% macro default__retest_files_of_failed_tests(results) %}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set placeholder = '__files_ingested_by_this_build__' -%}
    {%- set failed = [] -%}
    {%- set checked = [] -%}
    {%- for result in results if result.node.resource_type == 'test'
        and placeholder in (result.node.config.get('where') or '') ~ (result.node.raw_code or '') -%}
        {%- if result.status | string in ('fail', 'error') -%}
            {%- do failed.append(result.node) -%}
        {%- elif result.status | string in ('pass', 'warn') -%}
            {%- do checked.append(result.node.unique_id) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set table_exists = adapter.get_relation(
        database=target.database, schema='bronze', identifier='files_failing_tests') is not none -%}
    {%- set kept = run_query('select distinct test_id from bronze.files_failing_tests').columns[0].values() | list
        if table_exists else [] -%}
    {#- nothing failed, nothing kept: no statement (the usual build) -#}
    {%- if not failed and not kept -%}{{ return('') }}{%- endif -%}
    {%- if not table_exists -%}
        {%- do run_query(
            'create table if not exists bronze.files_failing_tests (test_id varchar not null, '
            ~ 'test_name varchar not null, source_file varchar not null, failed_at timestamp not null)'
        ) -%}
    {%- endif -%}
    {#- the tests that passed checked every file kept here (the placeholder includes them); the rows of a
        test no longer in the project (renamed, removed) go when file-scoped tests ran and none failed -#}
    {%- set done = [] -%}
    {%- for test_id in kept if test_id in checked or (test_id not in graph.nodes and checked and not failed) -%}
        {%- do done.append(test_id) -%}
    {%- endfor -%}
    {%- if done -%}
        {%- set quoted = [] -%}
        {%- for test_id in done -%}{%- do quoted.append(sql_string(test_id)) -%}{%- endfor -%}
        {%- set mended = run_query(
            "delete from bronze.files_failing_tests where test_id in (" ~ quoted | join(", ")
            ~ ") returning test_name, source_file"
        ) -%}
        {%- set passed_names = [] -%}
        {%- set passed_files = [] -%}
        {%- for row in mended.rows -%}
            {%- if row[0] not in passed_names -%}{%- do passed_names.append(row[0]) -%}{%- endif -%}
            {%- if row[1] not in passed_files -%}{%- do passed_files.append(row[1]) -%}{%- endif -%}
        {%- endfor -%}
        {{ log("Data tests of landed files pass again (" ~ passed_names | sort | join(", ") ~ "): "
            ~ passed_files | length ~ " files no longer tested at every build", info=true) }}
    {%- endif -%}
    {%- if failed -%}
        {#- the files these tests checked: this build's scope (pending files included), as the tests had it -#}
        {%- set scope = expand_unit_scope(placeholder) -%}
        {%- set tests = [] -%}
        {%- for node in failed -%}
            {%- do tests.append("(" ~ sql_string(node.unique_id) ~ ", " ~ sql_string(node.name) ~ ")") -%}
        {%- endfor -%}
        {%- do run_query(
            "insert into bronze.files_failing_tests "
            ~ "select failed.test_id, failed.test_name, files.source_file, " ~ ingestion_timestamp()
            ~ " from (values " ~ tests | join(', ') ~ ") as failed (test_id, test_name) "
            ~ "cross join (select distinct source_file from bronze.base_cmapss__landed_lines where " ~ scope
            ~ ") as files where not exists (select 1 from bronze.files_failing_tests as kept "
            ~ "where kept.test_id = failed.test_id and kept.source_file = files.source_file)"
        ) -%}
        {%- set files = run_query(
            "select distinct source_file from bronze.files_failing_tests order by 1"
        ).columns[0].values() | list -%}
        {{ log("A data test of landed files failed (" ~ failed | map(attribute='name') | sort | join(", ")
            ~ "): the next builds test these " ~ files | length ~ " files again, and fail, until their rows pass: "
            ~ files[:20] | join(", ") ~ (", ..." if files | length > 20 else "")
            ~ ". Land the corrected file (a new content replaces the file's rows), or fix the bug and run "
            ~ "`dbt build --full-refresh`.", info=true) }}
    {%- endif -%}
{% endmacro %}
