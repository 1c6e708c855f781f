{#- The column is null on every row. Failing rows are returned whole, so a stored failure
    (store_failures) shows everything the model says about them. -#}
{% test is_null(model, column_name) %}

select *
from {{ model }}
where {{ column_name }} is not null

{% endtest %}
