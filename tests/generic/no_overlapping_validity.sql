{#- SCD type 2: no two versions of one key are valid at the same instant, with half-open
    intervals [valid_from, valid_to) and a null valid_to meaning "still valid". -#}
{% test no_overlapping_validity(model, key_column, valid_from_column='valid_from', valid_to_column='valid_to') %}

with versions as (
    select
        {{ key_column }} as validity_key,
        {{ valid_from_column }} as valid_from,
        coalesce({{ valid_to_column }}, cast('9999-12-31' as timestamp)) as valid_to,
        row_number() over (
            partition by {{ key_column }}
            order by {{ valid_from_column }}, {{ valid_to_column }}
        ) as version_position
    from {{ model }}
)

select
    earlier.validity_key,
    earlier.valid_from as earlier_valid_from,
    earlier.valid_to as earlier_valid_to,
    later.valid_from as later_valid_from,
    later.valid_to as later_valid_to
from versions as earlier
inner join versions as later
    on earlier.validity_key = later.validity_key
    and earlier.version_position < later.version_position
    and later.valid_from < earlier.valid_to

{% endtest %}
