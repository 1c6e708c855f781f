{#- Datasets whose newest landed file (max landed_at) is older than `max_minutes` at the build's
    start: one row per stale dataset, with its newest landing and its staleness in minutes. -#}
{% test datasets_landed_within(model, max_minutes) %}

with newest_landings as (
    select
        dataset,
        max(landed_at) as last_landed_at
    from {{ model }}
    where dataset is not null
    group by dataset
)

select
    dataset,
    last_landed_at,
    {{ seconds_between('last_landed_at', ingestion_timestamp()) }} / 60.0 as staleness_minutes,
    {{ max_minutes }} as max_minutes
from newest_landings
where {{ seconds_between('last_landed_at', ingestion_timestamp()) }} / 60.0 > {{ max_minutes }}

{% endtest %}
