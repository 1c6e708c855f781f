{#-
    Like `relationships`, but each failing row names the offending row's key, its value and the
    catalogue that lacks it (failure_message): every non-null `column_name` of `model` is a
    `field` of `to`. As a test on a model's column it runs before that model's children in
    `dbt build`, so with severity error an unknown value stops everything built from the model.
-#}
{% test known_in_catalogue(model, column_name, to, field, key_column, catalogue_name) %}

with checked as (
    select * from {{ model }}
),

catalogue as (
    select * from {{ to }}
)

select
    checked.{{ key_column }},
    checked.{{ column_name }},
    '{{ key_column }} ' || checked.{{ key_column }} || ' has {{ column_name }} ' || chr(39)
    || checked.{{ column_name }} || chr(39) || ', which {{ catalogue_name }} does not list' as failure_message
from checked
left join catalogue
    on checked.{{ column_name }} = catalogue.{{ field }}
where checked.{{ column_name }} is not null
    and catalogue.{{ field }} is null

{% endtest %}
