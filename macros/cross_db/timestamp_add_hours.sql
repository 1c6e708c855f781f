{#- A timestamp plus a (fractional) number of hours, to the microsecond. -#}
{% macro timestamp_add_hours(ts, hours) %}
    {{ return(adapter.dispatch('timestamp_add_hours', 'pdm_lakehouse')(ts, hours)) }}
{% endmacro %}

{% macro default__timestamp_add_hours(ts, hours) -%}
    timestamp_micros(unix_micros({{ ts }}) + cast(round({{ hours }} * 3600000000) as bigint))
{%- endmacro %}

{% macro duckdb__timestamp_add_hours(ts, hours) -%}
    ({{ ts }} + to_microseconds(cast(round({{ hours }} * 3600000000) as bigint)))
{%- endmacro %}

{% macro spark__timestamp_add_hours(ts, hours) %}{{ default__timestamp_add_hours(ts, hours) }}{% endmacro %}
