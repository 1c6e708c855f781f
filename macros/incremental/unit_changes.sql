{#-
    Silver and gold are rebuilt per unit, for the units a build changed, never whole.

    silver.int_unit_change_log says which units each build changed, and why (readings, registry,
    RUL truth, regime baselines, scores). Every per-unit model downstream of it keeps, in
    silver.unit_change_watermarks, the change-log time it has processed through: a build takes
    the log rows newer than that, deletes those units' rows (pre-hook) and inserts their rows
    anew, and the watermark advances in the same transaction (post-hook). A build that died
    half-way is caught up by the next; a full refresh rebuilds everything and starts the
    watermark over. `previous_processed_through` keeps the watermark before the latest run, so
    the data tests of a build can check just the units that build rewrote (get_where_subquery).

    The delete pre-hook also records the units it deletes, per model, in silver.unit_rewrites (at
    the build's start, in the model's transaction): the units each table's incremental builds
    rewrote, which the Delta publish compares (lakehouse/publish.py), where the change log names
    units for causes the model does not take (a new risk score for the feature table). When the
    model is built whole instead (its first build, or a full refresh, of the whole project or of
    that model alone), the same pre-hook records that build in silver.unit_model_rebuilds: the
    publish then compares the table whole, since any unit may have changed (a model whose SQL or
    vars changed, full-refreshed alone, leaves no trace in the change log).
-#}

{% macro create_unit_change_watermarks() %}
    {{ return(adapter.dispatch('create_unit_change_watermarks', 'pdm_lakehouse')()) }}
{% endmacro %}

{#- Spark: the same table, as parquet, created here; it stays empty there (every build rebuilds the
    per-unit models whole, so the scoped data tests check every row). -#}
{% macro spark__create_unit_change_watermarks() %}
    {%- if execute -%}
        {%- do run_query('create schema if not exists silver') -%}
        {%- do run_query('create table if not exists silver.unit_change_watermarks (model_name string, '
            ~ 'processed_through timestamp, previous_processed_through timestamp, updated_at timestamp) using parquet') -%}
    {%- endif -%}
{% endmacro %}

{#- ... and silver.unit_rewrites and silver.unit_model_rebuilds (DuckDB only: on Spark nothing
    publishes from them). -#}
{% macro default__create_unit_change_watermarks() %}
    create schema if not exists silver;
    create table if not exists silver.unit_change_watermarks (
        model_name varchar primary key,
        processed_through timestamp not null,
        previous_processed_through timestamp not null,
        updated_at timestamp not null
    );
    create table if not exists silver.unit_rewrites (
        model_name varchar not null,
        unit_id varchar not null,
        rewritten_at timestamp not null
    );
    create table if not exists silver.unit_model_rebuilds (
        model_name varchar not null,
        rebuilt_at timestamp not null
    )
{% endmacro %}

{#- The change-log time this model (or `model_name`) has processed through; -infinity when none. -#}
{% macro unit_change_watermark(model_name=none) -%}
    {%- if is_incremental() or model_name is not none -%}
        (
            select coalesce(max(processed_through), {{ timestamp_before_all() }})
            from silver.unit_change_watermarks
            where model_name = '{{ model_name or this.identifier }}'
        )
    {%- else -%}
        {{ timestamp_before_all() }}
    {%- endif -%}
{%- endmacro %}

{#- Post-hook: this build's changes are processed. On a full refresh the whole table was rebuilt,
    so the previous watermark is -infinity (the data tests then check every unit). -#}
{% macro advance_unit_change_watermark() %}
    {{ return(adapter.dispatch('advance_unit_change_watermark', 'pdm_lakehouse')()) }}
{% endmacro %}

{#- Spark: nothing to advance (the per-unit models are rebuilt whole there); renders no statement. -#}
{% macro spark__advance_unit_change_watermark() %}{% endmacro %}

{% macro default__advance_unit_change_watermark() %}
    insert or replace into silver.unit_change_watermarks (
        model_name, processed_through, previous_processed_through, updated_at
    )
    select
        '{{ this.identifier }}',
        {{ ingestion_timestamp() }},
        {% if is_incremental() %}{{ unit_change_watermark() }}{% else %}cast('-infinity' as timestamp){% endif %},
        {{ ingestion_timestamp() }}
{% endmacro %}

{#- The units of `change_log` logged after this model's watermark (and matching `where`), as a query
    returning `columns`. -#}
{% macro units_changed_since_watermark(change_log, where='true', columns='unit_id') -%}
    select distinct {{ columns }}
    from {{ change_log }}
    where changed_at > {{ unit_change_watermark() }}
        and unit_id is not null
        and ({{ where }})
{%- endmacro %}

{#- Pre-hook: remove the rows of the changed units; the model's insert then brings back those still
    there. The units are recorded first in silver.unit_rewrites, under this model's name. A build
    that rebuilds the model whole records that instead (record_whole_rebuild). -#}
{% macro delete_changed_units(change_log, where='true') -%}
    {%- if is_incremental() -%}
    insert into silver.unit_rewrites (model_name, unit_id, rewritten_at)
    select '{{ this.identifier }}', unit_id, {{ ingestion_timestamp() }}
    from ({{ units_changed_since_watermark(change_log, where) }}) as changed;
    delete from {{ this }}
    where unit_id in ({{ units_changed_since_watermark(change_log, where) }})
    {%- else -%}
    {{ record_whole_rebuild() }}
    {%- endif -%}
{%- endmacro %}

{#- This build rebuilds the model whole: recorded in silver.unit_model_rebuilds under its name, at the
    build's start (in the model's transaction: a build that fails leaves no record). -#}
{% macro record_whole_rebuild() %}
    {{ return(adapter.dispatch('record_whole_rebuild', 'pdm_lakehouse')()) }}
{% endmacro %}

{#- Spark: every build rebuilds the per-unit models whole, and nothing publishes from it; renders no
    statement. -#}
{% macro spark__record_whole_rebuild() %}{% endmacro %}

{% macro default__record_whole_rebuild() -%}
    insert into silver.unit_model_rebuilds (model_name, rebuilt_at)
    values ('{{ this.identifier }}', {{ ingestion_timestamp() }})
{%- endmacro %}

{#- The changed units as a Jinja list, fetched when the model runs. Models that read views use it as
    a literal list (unit_id_in): DuckDB pushes a literal list through joins, aggregates and windows
    partitioned by unit down to the table scan, where a sub-query would make it compute every unit
    first (benchmarks/README.md). -#}
{% macro changed_unit_ids(change_log, where='true') %}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {{ return(run_query(units_changed_since_watermark(change_log, where)).columns[0].values() | list) }}
{% endmacro %}

{#- `(column between 'a' and 'z' and column in ('a', ..., 'z'))`; `false` for no ids. The range in front
    lets DuckDB skip, by the tables' zone maps, the row groups of units outside it before it
    probes the list (a view's scoped test: 1.25 s -> 0.42 s, benchmarks/README.md). -#}
{% macro unit_id_in(column, unit_ids) -%}
    {%- if unit_ids | length == 0 -%}
        false
    {%- else -%}
        ({{ column }} between {{ sql_string(unit_ids | min) }} and {{ sql_string(unit_ids | max) }}
        and {{ column }} in ({% for unit_id in unit_ids %}{{ sql_string(unit_id) }}{{ ", " if not loop.last }}{% endfor %}))
    {%- endif -%}
{%- endmacro %}

{#- The filter a per-unit model puts on what it reads: the changed units when incremental, all otherwise. -#}
{% macro changed_units_filter(change_log, column='unit_id', where='true') -%}
    {%- if is_incremental() -%}
        {{ unit_id_in(column, changed_unit_ids(change_log, where)) }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- The datasets whose regime baselines must be refitted: those with a train unit changed since the
    baselines' watermark, or with any unit changed and no train rows (fitted on all their rows). -#}
{% macro datasets_to_refit() -%}
    select distinct changes.dataset
    from ({{ units_changed_since_watermark(ref('int_unit_reading_changes'), columns='dataset, split') }}) as changes
    where changes.split = 'train'
        or not exists (
            select 1
            from {{ ref('int_sensor_readings_deduplicated') }} as readings
            where readings.dataset = changes.dataset and readings.split = 'train'
        )
{%- endmacro %}

{#- Pre-hook of the baselines: drop the baselines of the datasets about to be refitted. -#}
{% macro delete_refitted_baselines() -%}
    {%- if is_incremental() -%}
    delete from {{ this }} where dataset in ({{ datasets_to_refit() }})
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook of a small incremental model that writes only its changed rows: drop the rows whose
    key is no longer in `source` (a catalogue entry removed). -#}
{% macro delete_rows_not_in(source, key) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} where {{ key }} not in (select {{ key }} from {{ source }})
    {%- endif -%}
{%- endmacro %}

{#- Per-file increments (mart_data_quality): the files with a version landed in bronze since this
    model's watermark (bronze.ingestion_watermarks, macros/ingestion/incremental_watermark.sql). -#}
{% macro files_landed_since_watermark() -%}
    select distinct source_file
    from {{ ref('base_cmapss__landed_lines') }}
    where ingested_at > {{ incremental_watermark() }}
{%- endmacro %}

{#- ... as a literal `source_file in (...)` (pushed through the manifest view's aggregates), `true`
    when not incremental. -#}
{% macro files_landed_since_watermark_filter() -%}
    {%- if is_incremental() and execute -%}
        {%- set files = run_query(files_landed_since_watermark()).columns[0].values() | list -%}
        {%- if files | length == 0 -%}
            false
        {%- else -%}
            source_file in ({% for f in files %}{{ sql_string(f) }}{{ ", " if not loop.last }}{% endfor %})
        {%- endif -%}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook: the rows of files landed again are replaced by the increment. -#}
{% macro delete_rows_of_files_landed_since_watermark() -%}
    {%- if is_incremental() -%}
    delete from {{ this }} where source_file in ({{ files_landed_since_watermark() }})
    {%- endif -%}
{%- endmacro %}

{#- On-run-end: a failing error-severity data test keeps failing until what it caught is mended.
    The tests of a per-unit model check the units its build rewrote (its watermark before the build,
    get_where_subquery), and the model's post-hook has advanced its watermark by then; so the next
    build would rewrite none of those units and test none of them, and pass, leaving the rows the
    test caught in the table (and for the publish). For each model a failing test (status fail or
    error) is attached to, or that a singular test reads, whose watermark this build advanced, this
    puts the watermark back: the next build rewrites those units again, and its tests check them
    again, until the cause is fixed (the rows rewritten right) or a full refresh rebuilds the table.
    Models downstream of a failing test were skipped by `dbt build`, so their watermarks never moved.
    The bronze and staging tests scoped to the files a build ingested have their own hook, after this
    one: macros/incremental/retest_files_of_failed_tests.sql. -#}
{% macro reopen_watermarks_of_failed_tests(results) %}
    {{ return(adapter.dispatch('reopen_watermarks_of_failed_tests', 'pdm_lakehouse')(results)) }}
{% endmacro %}

{#- Spark: the per-unit models are rebuilt whole at every build, so every row is tested every time. -#}
{% macro spark__reopen_watermarks_of_failed_tests(results) %}{% endmacro %}

{% macro default__reopen_watermarks_of_failed_tests(results) %}
    {%- set models = [] -%}
    {%- for result in results
        if result.node.resource_type == 'test' and result.status | string in ('fail', 'error') -%}
        {%- set attached = result.node.attached_node -%}
        {%- for parent in ([attached] if attached else result.node.depends_on.nodes)
            if parent.startswith('model.') and graph.nodes[parent].alias not in models -%}
            {%- do models.append(graph.nodes[parent].alias) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if models -%}
        {%- set reopened -%}
            update silver.unit_change_watermarks
            set processed_through = previous_processed_through
            where updated_at = {{ ingestion_timestamp() }}
                and model_name in ('{{ models | join("', '") }}')
            returning model_name
        {%- endset -%}
        {%- set names = run_query(reopened).columns[0].values() | list -%}
        {%- if names -%}
            {{ log("A data test failed: the next build rewrites and tests again the units this build "
                ~ "rewrote in " ~ (names | sort | join(", ")), info=true) }}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
