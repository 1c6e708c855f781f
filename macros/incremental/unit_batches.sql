{#-
    A per-unit model whose rows come from windows over each unit's history (fct_unit_cycle_features)
    writes the units it rebuilds in batches of whole units, so one statement's window input stays
    within DuckDB's memory_limit however large the fleet: a first build or a full refresh of a 20 M
    reading fleet otherwise handed the window operator ~16 GB (0.8 KB a row) under a 6 GB limit, and
    it paged its blocks out and back in for 55 minutes without writing a row (benchmarks/README.md,
    "20 M readings").

    A batch is a range of unit ids, [first_unit, last_unit], cut so it holds about
    var('unit_batch_readings') readings. A range, not a hash of the id: DuckDB pushes a range on the
    partition key through the views' joins and windows down to the table scans (where zone maps skip
    the other units' row groups), and evaluates a hash(unit_id) filter only after every window.
    Windows are partitioned by unit and the fixed-point sums do not depend on which units are summed
    with them, so a unit's rows are the same bit for bit whatever batch it is written in.

    How a model uses it (DuckDB):
      - its SQL filters what it reads with unit_batch_filter('unit_id'): the range of the session
        variables pdm_unit_batch_first / _last, or every unit when they are unset (dbt show, the
        unit tests, the compiled SQL run by hand);
      - pre-hook plan_unit_batches(readings, changed_units): the batches of the units to rebuild (all
        on a first build or a full refresh, else those the change log names), in a temp table, and
        the variables set to the first; the model's own statement then writes that batch;
      - post-hook write_remaining_unit_batches(): one `insert` of the model's SQL per other batch,
        then the variables and the temp table go. Hooks run in the model's transaction, so a
        failing batch rolls the whole model back, watermark included.
    On Spark the engine distributes the windows itself: no batches, the filter is `true`.
-#}

{% macro unit_batch_filter(column='unit_id') -%}
    {{ return(adapter.dispatch('unit_batch_filter', 'pdm_lakehouse')(column)) }}
{%- endmacro %}

{% macro default__unit_batch_filter(column) -%}
    (
        getvariable('pdm_unit_batch_first') is null
        or {{ column }} between getvariable('pdm_unit_batch_first') and getvariable('pdm_unit_batch_last')
    )
{%- endmacro %}

{% macro spark__unit_batch_filter(column) -%}
    true
{%- endmacro %}

{#- `readings`: a table with one row per reading and a unit_id column; `units_filter`: which units
    this build rewrites (SQL on `unit_id`). -#}
{% macro plan_unit_batches(readings, units_filter='true') -%}
    {{ return(adapter.dispatch('plan_unit_batches', 'pdm_lakehouse')(readings, units_filter)) }}
{%- endmacro %}

{% macro default__plan_unit_batches(readings, units_filter) -%}
    create or replace temp table pdm_unit_batches as
    with unit_readings as (
        select unit_id, count(*) as readings
        from {{ readings }}
        where unit_id is not null and ({{ units_filter }})
        group by unit_id
    ),

    running as (
        select
            unit_id,
            sum(readings) over (order by unit_id rows between unbounded preceding and current row)
                - readings as readings_before
        from unit_readings
    )

    select
        cast(floor(readings_before / {{ var('unit_batch_readings') | int }}) as bigint) as batch,
        min(unit_id) as first_unit,
        max(unit_id) as last_unit
    from running
    group by all
    order by batch;

    set variable pdm_unit_batch_first = coalesce((select first_unit from pdm_unit_batches order by batch limit 1), '');
    set variable pdm_unit_batch_last = coalesce((select last_unit from pdm_unit_batches order by batch limit 1), '')
{%- endmacro %}

{% macro spark__plan_unit_batches(readings, units_filter) %}{% endmacro %}

{% macro write_remaining_unit_batches() -%}
    {{ return(adapter.dispatch('write_remaining_unit_batches', 'pdm_lakehouse')()) }}
{%- endmacro %}

{% macro default__write_remaining_unit_batches() -%}
    {%- set batches = run_query(
        'select first_unit, last_unit from pdm_unit_batches order by batch offset 1'
    ) if execute else none -%}
    {%- for batch in (batches.rows if batches else []) %}
    set variable pdm_unit_batch_first = {{ sql_string(batch[0]) }};
    set variable pdm_unit_batch_last = {{ sql_string(batch[1]) }};
    insert into {{ this }} by name ({{ sql }});
    {%- endfor %}
    reset variable pdm_unit_batch_first;
    reset variable pdm_unit_batch_last;
    drop table if exists pdm_unit_batches
{%- endmacro %}

{% macro spark__write_remaining_unit_batches() %}{% endmacro %}
