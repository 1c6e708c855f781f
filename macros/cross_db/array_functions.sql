{#- Array helpers the line parser needs. The default__ halves are Spark SQL (its higher-order
    functions); each spark__ half names the one Spark runs. -#}

{#- Number of elements of an array. -#}
{% macro array_length(arr) %}
    {{ return(adapter.dispatch('array_length', 'pdm_lakehouse')(arr)) }}
{% endmacro %}
{% macro default__array_length(arr) %}size({{ arr }}){% endmacro %}
{% macro duckdb__array_length(arr) %}len({{ arr }}){% endmacro %}
{% macro spark__array_length(arr) %}{{ default__array_length(arr) }}{% endmacro %}

{#- The 1-based i-th element of an array (null past its end). -#}
{% macro array_element(arr, i) %}
    {{ return(adapter.dispatch('array_element', 'pdm_lakehouse')(arr, i)) }}
{% endmacro %}
{% macro default__array_element(arr, i) %}try_element_at({{ arr }}, {{ i }}){% endmacro %}
{% macro duckdb__array_element(arr, i) %}{{ arr }}[{{ i }}]{% endmacro %}
{% macro spark__array_element(arr, i) %}{{ default__array_element(arr, i) }}{% endmacro %}

{#- The first token that is not a number (null when all are numbers). A token with an underscore
    is not one: DuckDB casts '6_42.11' to 642.11 (digit separators), which no C-MAPSS writer emits. -#}
{% macro first_non_numeric_token(arr) %}
    {{ return(adapter.dispatch('first_non_numeric_token', 'pdm_lakehouse')(arr)) }}
{% endmacro %}
{% macro default__first_non_numeric_token(arr) -%}
    try_element_at(filter({{ arr }}, t -> try_cast(t as double) is null or contains(t, '_')), 1)
{%- endmacro %}
{% macro duckdb__first_non_numeric_token(arr) -%}
    list_filter({{ arr }}, lambda t: try_cast(t as double) is null or contains(t, '_'))[1]
{%- endmacro %}

{#- Spark casts with Java's number parser, which reads a token with a Java type suffix after its digits
    ('1d', '2.f'; not the f of 'inf'), a hexadecimal float ('0x10p0', 16) and one with control characters
    at either end ('1.5' then \x01, trimmed): such a token is not a number here, as in DuckDB. And Java's
    parser does not read '-nan', which DuckDB reads as NaN: a number here (spark__has_non_finite_token). -#}
{% macro spark__first_non_numeric_token(arr) -%}
    try_element_at(
        filter({{ arr }}, t -> (try_cast(t as double) is null and lower(t) != '-nan') or t rlike '[0-9.][dDfF]$|[xX]|[\x00-\x1f]' or contains(t, '_')), 1
    )
{%- endmacro %}

{#- The first token after the first `skip` that parses as a number larger in magnitude than `limit` (null when none). -#}
{% macro first_out_of_range_token(arr, skip, limit) %}
    {{ return(adapter.dispatch('first_out_of_range_token', 'pdm_lakehouse')(arr, skip, limit)) }}
{% endmacro %}
{% macro default__first_out_of_range_token(arr, skip, limit) -%}
    try_element_at(
        filter(slice({{ arr }}, {{ skip + 1 }}, size({{ arr }})), t -> abs(try_cast(t as double)) > {{ limit }}), 1
    )
{%- endmacro %}
{% macro spark__first_out_of_range_token(arr, skip, limit) %}{{ default__first_out_of_range_token(arr, skip, limit) }}{% endmacro %}
{% macro duckdb__first_out_of_range_token(arr, skip, limit) -%}
    list_filter({{ arr }}[{{ skip + 1 }}:], lambda t: abs(try_cast(t as double)) > {{ limit }})[1]
{%- endmacro %}

{#- True when some token parses as a number that is not finite (nan, inf). -#}
{% macro has_non_finite_token(arr) %}
    {{ return(adapter.dispatch('has_non_finite_token', 'pdm_lakehouse')(arr)) }}
{% endmacro %}
{% macro default__has_non_finite_token(arr) -%}
    exists({{ arr }}, t -> isnan(try_cast(t as double)) or abs(try_cast(t as double)) = double('inf'))
{%- endmacro %}
{#- Spark: '-nan' too, which DuckDB reads as NaN and Spark's cast does not read. -#}
{% macro spark__has_non_finite_token(arr) -%}
    exists({{ arr }}, t -> isnan(try_cast(t as double)) or abs(try_cast(t as double)) = double('inf') or lower(t) = '-nan')
{%- endmacro %}
{% macro duckdb__has_non_finite_token(arr) -%}
    len(list_filter({{ arr }}, lambda t: not isfinite(try_cast(t as double)))) > 0
{%- endmacro %}

{#- The elements after the first n, each cast to double (an empty array when there are none). -#}
{% macro array_tail_as_doubles(arr, n) %}
    {{ return(adapter.dispatch('array_tail_as_doubles', 'pdm_lakehouse')(arr, n)) }}
{% endmacro %}
{% macro default__array_tail_as_doubles(arr, n) -%}
    transform(slice({{ arr }}, {{ n }} + 1, greatest(size({{ arr }}) - {{ n }}, 0)), t -> try_cast(t as double))
{%- endmacro %}
{% macro spark__array_tail_as_doubles(arr, n) %}{{ default__array_tail_as_doubles(arr, n) }}{% endmacro %}
{% macro duckdb__array_tail_as_doubles(arr, n) -%}
    list_transform({{ arr }}[{{ n }} + 1:], lambda t: try_cast(t as double))
{%- endmacro %}
