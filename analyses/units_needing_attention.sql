-- Which units need a look? The ten units in service most at risk: the model's failure probability
-- first, where scored, then the degradation index. `dbt show -s units_needing_attention --limit 10`
-- (dbt show appends its own `limit`, 5 by default, so the ten are chosen by rank, not by a `limit`
-- here), or `dbt compile -s units_needing_attention` and run the SQL in target/ with duckdb.
with fleet_health as (
    select * from {{ ref('mart_fleet_health') }}
),

ranked as (
    select
        unit_id,
        equipment_model_code,
        site_code,
        latest_cycle,
        share_of_rated_life_used,
        health_band,
        failure_probability,
        predicted_rul,
        round(degradation_index_mean_w10, 2) as degradation,
        row_number() over (
            order by failure_probability desc nulls last, degradation_index_mean_w10 desc, unit_id asc
        ) as attention_rank
    from fleet_health
    where not is_run_to_failure
),

final as (
    select * from ranked
    where attention_rank <= 10
)

select * from final
order by attention_rank
