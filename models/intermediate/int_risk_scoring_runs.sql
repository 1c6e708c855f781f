{#-
    One row per scoring run and dataset: when `python -m ml.predict` scored that dataset's units,
    from which version of the published feature table, with which champions, and how many units.
    What gold.mart_pipeline_freshness dates a landed file's scoring by, without reading every
    score row. Incremental: a build reads only the scores newer than the newest run it holds.
-#}
{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='append',
        on_schema_change='fail',
    )
}}

with scores as (
    select * from {{ ref('stg_predictions__unit_risk_scores') }}
    {%- if is_incremental() %}
    where scored_at > (select coalesce(max(scored_at), cast('-infinity' as timestamp)) from {{ this }})
    {%- endif %}
),

runs as (
    select
        source_file,
        dataset,
        scored_at,
        features_delta_version,
        classifier_version,
        regressor_version,
        count(*) as unit_count
    from scores
    group by all
)

select * from runs
