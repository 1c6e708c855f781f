{#-
    One row per unit: its most recent score (the newest scoring run that included it), with the
    champion classifier's decision (decision_threshold, is_predicted_to_fail) of that run.
    Incremental: a build reads only the scores newer than the newest it holds and replaces those
    units' rows, so the scoring runs already taken in are not read again. A unit erased with `make
    erase` (stg_erasures__erased_units) never enters, whatever scores file still names it (one a
    scoring run wrote while the unit was briefly back, say: a restore of an older Delta version).
    A full refresh (every build on Spark, where this is a table rebuilt whole) reads the predictions
    folder alone: its pre-hook stops it rather than take a unit
    back to an older score when the file of its latest one was deleted
    (macros/ingestion/assert_full_refresh_keeps_latest_scores.sql). On Spark, where dbt-spark drops the
    table before it writes the new one, a second pre-hook moves it aside until the new one is written,
    so a build that stops in between leaves it for the next build's check (macros/ingestion/replaced_table.sql).
-#}
{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key='unit_id',
        on_schema_change='fail',
        pre_hook=[
            "{{ assert_full_refresh_keeps_latest_scores() }}",
            "{{ move_replaced_table_aside() }}",
        ],
        post_hook="{{ drop_replaced_table() }}",
    )
}}

with erased_units as (
    select * from {{ ref('stg_erasures__erased_units') }}
),

scores as (
    select new_scores.*
    from {{ ref('stg_predictions__unit_risk_scores') }} as new_scores
    left join erased_units
        on new_scores.unit_id = erased_units.unit_id
    where erased_units.unit_id is null
    {%- if is_incremental() %}
        and new_scores.scored_at > (select coalesce(max(scored_at), cast('-infinity' as timestamp)) from {{ this }})
    {%- endif %}
),

ranked as (
    select
        *,
        row_number() over (partition by unit_id order by scored_at desc, source_file desc) as score_rank
    from scores
),

final as (
    select
        unit_id,
        scored_cycle,
        failure_probability,
        predicted_rul,
        classifier_version,
        regressor_version,
        features_delta_version,
        scored_at,
        decision_threshold,
        is_predicted_to_fail
    from ranked
    where score_rank = 1
)

select * from final
