{#-
    Rolling mean, sample standard deviation and least-squares slope taken from exact window sums.

    Window aggregates over doubles add in an order that depends on the rows around the frame
    (DuckDB's segment trees span the whole partitioned block), so the same unit's windows
    differed in the last bits depending on which other units were computed with it. Silver and
    gold are rebuilt per unit and must be bit for bit what a full refresh gives, so the windows
    add integers: each value in fixed point, rounded once to 1e-9 (fixed_point), its square and
    its product with the cycle as wide integers, cycles as integers. Integer sums do not depend
    on the order of addition, and the numerators below (n * sum(y^2) - sum(y)^2, n * sum(x y) -
    sum(x) sum(y)) are exact too; only the last division is in doubles, the same way for every
    row. Integer window sums are also cheaper than decimal or double ones.

    Range: a value must be below 9.2e9 in magnitude (bigint fixed point) and a window's
    numerators below 1.7e38 (for a std, values up to ~1e8): past that the build stops with an
    overflow error rather than produce a wrong feature.

    int_unit_cycle_rolling_features computes each window sum once (a statistic's sums are
    shared with the others of its window and source, the counts and cycle sums with every
    source) and passes the sums' column names to the macros below.
-#}

{#- The value a window adds: in fixed point, an integer count of 1e-9. -#}
{% macro fixed_point(expression) -%}
    cast(round({{ expression }} * {{ fixed_point_scale() }}) as bigint)
{%- endmacro %}

{% macro fixed_point_scale() -%}
    1000000000
{%- endmacro %}

{#- An integer type wide enough for sums of squares and products of fixed-point values. -#}
{% macro wide_integer_type() %}
    {{ return(adapter.dispatch('wide_integer_type', 'pdm_lakehouse')()) }}
{% endmacro %}

{% macro default__wide_integer_type() -%}
    decimal(38, 0)
{%- endmacro %}

{% macro spark__wide_integer_type() %}{{ default__wide_integer_type() }}{% endmacro %}

{% macro duckdb__wide_integer_type() -%}
    hugeint
{%- endmacro %}

{#- The mean: the sum of fixed-point values over their number; null when the window holds none. -#}
{% macro mean_from_sums(total, n) -%}
    cast({{ total }} as double) / (cast({{ fixed_point_scale() }} as double) * nullif({{ n }}, 0))
{%- endmacro %}

{#- The sample standard deviation; null until the window holds two values. n * sum(y^2) - sum(y)^2
    is exact before the division and the square root: in doubles the difference of two nearly
    equal sums left ~1e-13 of noise, which the root turned into a std of ~5e-7 where the values
    were all equal. -#}
{% macro std_from_sums(n, total, total_of_squares) -%}
    case
        when {{ n }} >= 2
            then sqrt(
                cast({{ n }} * {{ total_of_squares }} - cast({{ total }} as {{ wide_integer_type() }}) * {{ total }} as double)
                / (
                    cast({{ fixed_point_scale() }} as double) * cast({{ fixed_point_scale() }} as double)
                    * {{ n }} * ({{ n }} - 1)
                )
            )
    end
{%- endmacro %}

{#- The least-squares slope of y on the cycle; null until the window holds two points. -#}
{% macro slope_from_sums(n, cycle_total, cycle_square_total, total, cycle_product_total) -%}
    case
        when {{ n }} >= 2
            then cast({{ n }} * {{ cycle_product_total }} - {{ cycle_total }} * cast({{ total }} as {{ wide_integer_type() }}) as double)
            / (
                cast({{ fixed_point_scale() }} as double)
                * nullif(cast({{ n }} * {{ cycle_square_total }} - {{ cycle_total }} * {{ cycle_total }} as double), 0)
            )
    end
{%- endmacro %}
