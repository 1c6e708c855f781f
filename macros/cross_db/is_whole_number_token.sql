{#- True when a token writes a whole number plainly: digits, an optional leading +, and optionally a
    decimal point followed by zeros only (`12`, `+12`, `012`, `12.0`). Not an exponent (`1.2e1`),
    a minus sign, an underscore (`1_2`), a fraction (`12.5`) or a hex literal, all of which a cast
    to a number may accept. Unit numbers, cycles and remaining lives are counts: written any other
    way, the line is not trusted. Character classes, not backslashes, so one pattern reads alike in
    both engines' string literals. -#}
{% macro is_whole_number_token(token) %}
    {{ return(adapter.dispatch('is_whole_number_token', 'pdm_lakehouse')(token)) }}
{% endmacro %}

{% macro default__is_whole_number_token(token) -%}
    coalesce({{ token }} rlike '^[+]?[0-9]+([.]0*)?$', false)
{%- endmacro %}

{% macro spark__is_whole_number_token(token) %}{{ default__is_whole_number_token(token) }}{% endmacro %}

{% macro duckdb__is_whole_number_token(token) -%}
    coalesce(regexp_full_match({{ token }}, '[+]?[0-9]+([.]0*)?'), false)
{%- endmacro %}

{#- A token as an integer, null when it is not a number or out of the integer range (a NaN or
    1e20 unit would otherwise stop the build with a conversion error, not quarantine its line). -#}
{% macro token_as_integer(token) -%}
    try_cast(try_cast({{ token }} as double) as integer)
{%- endmacro %}
