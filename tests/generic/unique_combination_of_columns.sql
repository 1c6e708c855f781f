{#- The grain test: no two rows share the same values of these columns. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

with grouped as (
    select
        {{ combination_of_columns | join(', ') }},
        count(*) as rows_with_these_values
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
)

select * from grouped
where rows_with_these_values > 1

{% endtest %}
