{#-
    Rolling mean, sample standard deviation and least-squares slope over a named window.

    DuckDB's window aggregates add floating-point values in an order that depends on the rows
    around the frame (segment trees over the whole partitioned block), so the same unit's
    windows differed in the last bits depending on which other units were computed with it.
    Silver and gold are rebuilt per unit and must be bit for bit what a full refresh gives, so
    the DuckDB halves sum in exact decimals (values rounded to 1e-12 first, as the regime
    baselines are) and take the statistic from the exact sums. Engines whose window sums run in
    frame order (Spark) use the plain aggregates.
-#}

{#- The mean of y over the window; null when the window holds no value. -#}
{% macro rolling_mean(y, window) %}
    {{ return(adapter.dispatch('rolling_mean', 'pdm_lakehouse')(y, window)) }}
{% endmacro %}

{% macro default__rolling_mean(y, window) -%}
    avg({{ y }}) over {{ window }}
{%- endmacro %}

{% macro duckdb__rolling_mean(y, window) -%}
    cast(sum(cast({{ y }} as decimal(38, 12))) over {{ window }} as double)
    / nullif(count({{ y }}) over {{ window }}, 0)
{%- endmacro %}

{#- The sample standard deviation of y over the window; null until it holds two values. -#}
{% macro rolling_std(y, window) %}
    {{ return(adapter.dispatch('rolling_std', 'pdm_lakehouse')(y, window)) }}
{% endmacro %}

{% macro default__rolling_std(y, window) -%}
    stddev_samp({{ y }}) over {{ window }}
{%- endmacro %}

{#- n * sum(y^2) - sum(y)^2 is taken exactly in decimals (y rounded to 1e-12, so its squares are
    exact at 1e-24) before the division and the square root: in doubles the difference of two
    nearly equal sums left ~1e-13 of noise, which the root turned into a std of ~5e-7 where the
    values were all equal. -#}
{% macro duckdb__rolling_std(y, window) -%}
    {%- set y_exact = 'cast(' ~ y ~ ' as decimal(38, 12))' -%}
    case
        when count({{ y }}) over {{ window }} >= 2
            then sqrt(
                cast(
                    count({{ y }}) over {{ window }} * sum({{ y_exact }} * {{ y_exact }}) over {{ window }}
                    - sum({{ y_exact }}) over {{ window }} * sum({{ y_exact }}) over {{ window }}
                    as double
                )
                / (count({{ y }}) over {{ window }} * (count({{ y }}) over {{ window }} - 1))
            )
    end
{%- endmacro %}

{#- Least-squares slope of y on x (an integer, the cycle) over the window; null until it holds two points. -#}
{% macro rolling_slope(y, x, window) %}
    {{ return(adapter.dispatch('rolling_slope', 'pdm_lakehouse')(y, x, window)) }}
{% endmacro %}

{% macro default__rolling_slope(y, x, window) -%}
    case when count({{ y }}) over {{ window }} >= 2 then regr_slope({{ y }}, {{ x }}) over {{ window }} end
{%- endmacro %}

{% macro duckdb__rolling_slope(y, x, window) -%}
    {%- set x_where_y = 'case when ' ~ y ~ ' is not null then ' ~ x ~ ' end' -%}
    case
        when count({{ y }}) over {{ window }} >= 2
            then (
                count({{ y }}) over {{ window }}
                * cast(sum(cast({{ x }} * {{ y }} as decimal(38, 12))) over {{ window }} as double)
                - cast(sum({{ x_where_y }}) over {{ window }} as double)
                * cast(sum(cast({{ y }} as decimal(38, 12))) over {{ window }} as double)
            ) / nullif(
                cast(
                    count({{ y }}) over {{ window }} * sum(cast({{ x_where_y }} as hugeint) * {{ x_where_y }}) over {{ window }}
                    - sum(cast({{ x_where_y }} as hugeint)) over {{ window }} * sum(cast({{ x_where_y }} as hugeint)) over {{ window }}
                    as double
                ),
                0
            )
    end
{%- endmacro %}
