-- Which units need a look? Worst degradation first, with the model's risk where scored.
-- Compile with `dbt compile -s units_needing_attention`, or run the SQL in target/ with duckdb.
with fleet_health as (
    select * from {{ ref('mart_fleet_health') }}
)

select
    unit_id,
    equipment_model_code,
    site_code,
    latest_cycle,
    share_of_rated_life_used,
    health_band,
    failure_probability,
    predicted_rul,
    round(degradation_index_mean_w10, 2) as degradation
from fleet_health
where not is_run_to_failure
order by failure_probability desc nulls last, degradation_index_mean_w10 desc
limit 10
