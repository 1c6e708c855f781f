{#- A join that must neither drop nor multiply rows: the model has exactly as many rows as
    compare_model (optionally filtered by compare_where, which may scope to the units a build
    rewrote like a test's `where:`, macros/incremental/scoped_tests.sql). Returns the two counts
    when they differ. -#}
{% test equal_row_count(model, compare_model, compare_where=none) %}

with counts as (
    select
        (select count(*) from {{ model }}) as model_rows,
        (
            select count(*) from {{ compare_model }}
            {%- if compare_where %} where {{ expand_unit_scope(compare_where) }}{% endif %}
        ) as compare_model_rows
)

select * from counts
where model_rows != compare_model_rows

{% endtest %}
