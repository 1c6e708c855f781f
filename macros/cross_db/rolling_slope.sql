{#- Least-squares slope of y on x over a named window; null until the window holds two points. -#}
{% macro rolling_slope(y, x, window) %}
    {{ return(adapter.dispatch('rolling_slope', 'pdm_lakehouse')(y, x, window)) }}
{% endmacro %}

{% macro default__rolling_slope(y, x, window) -%}
    case when count({{ y }}) over {{ window }} >= 2 then regr_slope({{ y }}, {{ x }}) over {{ window }} end
{%- endmacro %}
