{#- Rows this build wrote (updated_at = the build's start, ingestion_timestamp()) whose lag in
    seconds (the column) passes `max_seconds`: a hop that took longer than its SLA fails (warns) in
    the build that wrote the row, not on every later build (a row is rewritten when its next hop
    arrives, and judged again then). Failing rows are returned whole. -#}
{% test lag_within_sla(model, column_name, max_seconds) %}

select *
from {{ model }}
where {{ column_name }} > {{ max_seconds }}
    and updated_at = {{ ingestion_timestamp() }}

{% endtest %}
