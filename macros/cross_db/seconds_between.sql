{#- Seconds from `start_ts` to `end_ts` (timestamps), as a double with the microseconds kept; null
    when either is null. -#}
{% macro seconds_between(start_ts, end_ts) %}
    {{ return(adapter.dispatch('seconds_between', 'pdm_lakehouse')(start_ts, end_ts)) }}
{% endmacro %}

{% macro default__seconds_between(start_ts, end_ts) -%}
    (unix_micros({{ end_ts }}) - unix_micros({{ start_ts }})) / 1000000.0
{%- endmacro %}

{% macro duckdb__seconds_between(start_ts, end_ts) -%}
    (epoch_us({{ end_ts }}) - epoch_us({{ start_ts }})) / 1000000.0
{%- endmacro %}

{#- Spark: divided as a double (a decimal literal would make the result a decimal there). -#}
{% macro spark__seconds_between(start_ts, end_ts) -%}
    (unix_micros({{ end_ts }}) - unix_micros({{ start_ts }})) / cast(1000000 as double)
{%- endmacro %}
