-- How did one unit degrade, and which registry version (firmware, site) was it on at the time?
{% set unit = var('unit_id', 'FD101-train-016') %}

with features as (
    select * from {{ ref('fct_unit_cycle_features') }}
),

registry_history as (
    select * from {{ ref('dim_unit_registry_history') }}
)

select
    features.cycle,
    features.reading_at,
    registry_history.firmware_version,
    registry_history.site_code,
    features.rul,
    round(features.degradation_index_mean_w10, 2) as degradation
from features
left join registry_history
    on features.registry_version_id = registry_history.registry_version_id
where features.unit_id = '{{ unit }}'
order by features.cycle
