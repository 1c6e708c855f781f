{#- The deterministic key of a unit: train and test units of one dataset are different engines,
    and unit numbers restart in every dataset, so a unit is (dataset, split, unit_number):
    'FD001-train-007'. Numbers are padded to three digits, never cut: unit 1020 is 'FD001-train-1020'
    (lpad to 3 alone would truncate it to '102', the id of another unit). -#}
{% macro unit_id(dataset, split, unit_number) -%}
    concat(
        {{ dataset }}, '-', {{ split }}, '-',
        lpad(cast({{ unit_number }} as string), cast(greatest(3, length(cast({{ unit_number }} as string))) as integer), '0')
    )
{%- endmacro %}
