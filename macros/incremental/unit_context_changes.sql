{#-
    What int_unit_context_hashes digests in an incremental build: the inputs that changed since it
    last ran, never every unit's. Each input has its own way of saying what changed:

      registry  the registry versions are a view over the snapshot (SCD2) and the equipment-model
                catalogue (seed). A content mark of both (registry_content_mark: the snapshot's row
                count and an order-free hash of its rows' keys and validity ends, an md5 of the
                catalogue), compared with the mark stored when the digests were last taken, says
                whether anything changed: a build that captured no registry change digests no
                registry version; one that did (or an erasure, which deletes snapshot rows)
                digests them all.
      truth     a dataset's RUL truth mapping changes only with a RUL file landed for it or a change
                to its set of test units (new, withdrawn or erased test units): the datasets with a
                RUL file landed in bronze, or a test unit named by int_unit_reading_changes, since
                the model's watermark (rul_datasets_touched_since) are re-mapped and digested, the
                others are not read.
      scores    int_unit_risk_scores_latest only takes scores newer than the newest it holds: the
                units with a score newer than the newest the digests were taken from (the stored
                mark), plus the units int_unit_reading_changes named since the watermark (an
                erasure deletes a unit's score row), are digested.

    The marks live in silver.unit_context_input_marks (one row per input: the mark, the one before
    it and the start of the build that wrote them), written by the model's post-hook in its own
    transaction, beside its watermark in silver.unit_change_watermarks (the build's start, as every
    per-unit model's). The registry view's scoped data tests read them too
    (macros/incremental/scoped_tests.sql). On Spark every build rebuilds the model whole (no
    increment), so the table and its hooks render nothing there.
-#}

{#- Pre-hook: the table of input marks. -#}
{% macro create_unit_context_input_marks() %}
    {{ return(adapter.dispatch('create_unit_context_input_marks', 'pdm_lakehouse')()) }}
{% endmacro %}

{#- Spark: none (the model is rebuilt whole there, so nothing reads a mark); renders no statement. -#}
{% macro spark__create_unit_context_input_marks() %}{% endmacro %}

{% macro default__create_unit_context_input_marks() %}
    create table if not exists silver.unit_context_input_marks (
        input_name varchar primary key,
        input_mark varchar not null,
        previous_input_mark varchar,
        updated_at timestamp not null
    )
{% endmacro %}

{#- The registry's content mark, as a query returning one text value: the snapshot's row count and
    an order-free hash of what dbt writes to it (a captured state's dbt_scd_id, the validity end it
    sets when the state is replaced, the deletion flag), and an md5 of the catalogue. Any change the
    snapshot captures adds a row; an erasure removes rows; a catalogue edit changes the md5. -#}
{% macro registry_content_mark(snapshot, catalogue) -%}
    select concat_ws(
        '|',
        cast(count(*) as string),
        coalesce(cast(bit_xor(hash(dbt_scd_id, dbt_valid_to, dbt_is_deleted)) as string), ''),
        (
            select md5(coalesce({{ string_agg_ordered(row_as_text('catalogue'), "'|'", 'catalogue.equipment_model_code') }}, ''))
            from {{ catalogue }} as catalogue
        )
    )
    from {{ snapshot }}
{%- endmacro %}

{#- The scores' content mark: the newest scored_at the latest-score table holds ('' when none). -#}
{% macro scores_content_mark(latest_scores) -%}
    select coalesce(cast(max(scored_at) as string), '') from {{ latest_scores }}
{%- endmacro %}

{#- The marks stored by the model's last run, {input_name: input_mark}; {} before its first
    incremental run with marks (every input is then digested whole, as on a first build). -#}
{% macro stored_unit_context_input_marks() %}
    {%- if not execute or adapter.get_relation(
        database=target.database, schema='silver', identifier='unit_context_input_marks') is none -%}
        {{ return({}) }}
    {%- endif -%}
    {%- set marks = {} -%}
    {%- for row in run_query('select input_name, input_mark from silver.unit_context_input_marks').rows -%}
        {%- do marks.update({row[0]: row[1]}) -%}
    {%- endfor -%}
    {{ return(marks) }}
{% endmacro %}

{#- Post-hook: the marks of what this run digested (the inputs cannot change within the build). -#}
{% macro write_unit_context_input_marks(snapshot, catalogue, latest_scores) %}
    {{ return(adapter.dispatch('write_unit_context_input_marks', 'pdm_lakehouse')(snapshot, catalogue, latest_scores)) }}
{% endmacro %}

{#- Spark: nothing to write (see create_unit_context_input_marks); renders no statement. -#}
{% macro spark__write_unit_context_input_marks(snapshot, catalogue, latest_scores) %}{% endmacro %}

{% macro default__write_unit_context_input_marks(snapshot, catalogue, latest_scores) %}
    insert or replace into silver.unit_context_input_marks (input_name, input_mark, previous_input_mark, updated_at)
    with marks as (
        select 'registry' as input_name, ({{ registry_content_mark(snapshot, catalogue) }}) as input_mark
        union all
        select 'scores' as input_name, ({{ scores_content_mark(latest_scores) }}) as input_mark
    )

    select
        marks.input_name,
        marks.input_mark,
        stored.input_mark as previous_input_mark,
        {{ ingestion_timestamp() }} as updated_at
    from marks
    left join silver.unit_context_input_marks as stored
        on marks.input_name = stored.input_name
{% endmacro %}

{#- Whether the registry's content differs from the mark stored at the model's last run (true when
    there is none, or not incremental). -#}
{% macro registry_changed_since_marked(snapshot, catalogue) %}
    {%- if not is_incremental() -%}{{ return(true) }}{%- endif -%}
    {%- if not execute -%}{{ return(false) }}{%- endif -%}
    {%- set stored = stored_unit_context_input_marks().get('registry') -%}
    {%- set current = run_query(registry_content_mark(snapshot, catalogue)).rows[0][0] -%}
    {{ return(stored is none or stored != current) }}
{% endmacro %}

{#- The filter on int_unit_risk_scores_latest: the scores newer than the stored mark, and the units
    int_unit_reading_changes named since this model's watermark; `true` when not incremental, with
    no mark or before any score was digested. -#}
{% macro scores_changed_since_marked_filter(reading_changes) -%}
    {%- if not is_incremental() -%}
        true
    {%- elif not execute -%}
        false
    {%- else -%}
        {%- set stored = stored_unit_context_input_marks().get('scores') -%}
        {#- no mark, or no score digested yet: every score is new -#}
        {%- if stored is none or stored == '' -%}
            true
        {%- else -%}
            (scored_at > cast({{ sql_string(stored) }} as timestamp) or unit_id in (
                select named.unit_id from {{ reading_changes }} as named
                where named.changed_at > {{ unit_change_watermark() }}
            ))
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- The datasets whose RUL truth mapping may have changed since this model's watermark: a RUL file of
    theirs landed in bronze, or int_unit_reading_changes named one of their test units (new, late,
    corrected, withdrawn or erased), as a query returning `dataset`. (The mapping's scoped data
    tests run the same query: macros/incremental/scoped_tests.sql.) -#}
{% macro rul_datasets_touched_since(landed_lines, reading_changes) -%}
    select named.dataset
    from {{ reading_changes }} as named
    where named.changed_at > {{ unit_change_watermark() }}
        and named.split = 'test'
    union
    select landed.dataset
    from {{ landed_lines }} as landed
    where landed.ingested_at > {{ unit_change_watermark() }}
        and landed.file_kind = 'rul_truth'
        and landed.dataset is not null
{%- endmacro %}

{#- ... as a Jinja list, fetched when the model runs (a literal list reaches the mapping view's scans,
    as unit_id_in does for units); none when not incremental (every dataset). -#}
{% macro rul_datasets_touched(landed_lines, reading_changes) %}
    {%- if not is_incremental() -%}{{ return(none) }}{%- endif -%}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {{ return(run_query(rul_datasets_touched_since(landed_lines, reading_changes) ~ ' order by 1').columns[0].values() | list) }}
{% endmacro %}

{#- `(column between 'FD001' and 'FD007' and column in ('FD001', ..., 'FD007'))`; `false` for an empty
    list, `true` for none (every dataset). The range in front is what DuckDB carries through the
    mapping view's joins to every scan (a constant comparison reaches the columns a join equates;
    an IN list does not), so a reader of one dataset scans that dataset's rows only.
    `with_range=false` leaves the range out: on a view that also reads the readings for a unit
    filter (int_unit_cycle_labels), DuckDB carries the constant range to that scan too, where it
    joins the unit range in an OR that no zone map serves, and the scan reads every reading (fct's
    labels: 0.30 s instead of 0.03 s for 77 units at 2 M readings, growing with the history). -#}
{% macro dataset_in(column, datasets, with_range=true) -%}
    {%- if datasets is none -%}
        true
    {%- elif datasets | length == 0 -%}
        false
    {%- else -%}
        ({% if with_range %}{{ column }} between {{ sql_string(datasets | min) }} and {{ sql_string(datasets | max) }}
        and {% endif %}{{ column }} in ({% for dataset in datasets %}{{ sql_string(dataset) }}{{ ", " if not loop.last }}{% endfor %}))
    {%- endif -%}
{%- endmacro %}

{#- The datasets of unit ids ('FD001-test-007' -> 'FD001': a dataset name is FDnnn, no hyphen),
    sorted, each once. -#}
{% macro datasets_of_units(unit_ids) %}
    {%- set datasets = [] -%}
    {%- for unit_id in unit_ids -%}
        {%- set dataset = unit_id.split('-')[0] -%}
        {%- if dataset not in datasets -%}{%- do datasets.append(dataset) -%}{%- endif -%}
    {%- endfor -%}
    {{ return(datasets | sort) }}
{% endmacro %}

{#- `(column like 'FD001-test-%' or ...)`: the test units' ids of these datasets; `false` for an empty
    list, `true` for none. -#}
{% macro test_unit_of_datasets(column, datasets) -%}
    {%- if datasets is none -%}
        true
    {%- elif datasets | length == 0 -%}
        false
    {%- else -%}
        ({% for dataset in datasets %}{{ column }} like {{ sql_string(dataset ~ '-test-%') }}{{ " or " if not loop.last }}{% endfor %})
    {%- endif -%}
{%- endmacro %}
