{#- The deterministic key of a unit: train and test units of one dataset are different engines,
    and unit numbers restart in every dataset, so a unit is (dataset, split, unit_number):
    'FD001-train-007'. -#}
{% macro unit_id(dataset, split, unit_number) -%}
    concat({{ dataset }}, '-', {{ split }}, '-', lpad(cast({{ unit_number }} as varchar), 3, '0'))
{%- endmacro %}
