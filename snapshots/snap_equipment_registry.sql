{#-
    SCD type 2 history of the equipment registry.

    Why a snapshot, and why the timestamp strategy: the registry reaches us as an extract
    overwritten in place (today's state only), so the only way to keep its history is to
    record, on every build, what changed since the last one; that is what a snapshot does.
    The registry stamps every change with `updated_at` (the moment the change took effect),
    so the timestamp strategy both detects changes reliably and dates each version by when it
    took effect rather than by when this build happened to see it (the check strategy would
    date it by the build). A unit removed from the extract is closed (hard_deletes:
    invalidate), not left current for ever.

    A snapshot cannot know what happened before its first run: a unit's first captured
    version is taken as valid from the unit's commissioning (int_equipment_registry_versions).
-#}
{% snapshot snap_equipment_registry %}

{{
    config(
        unique_key='unit_id',
        strategy='timestamp',
        updated_at='updated_at',
        hard_deletes='invalidate',
    )
}}

select * from {{ ref('stg_registry__equipment_registry') }}

{% endsnapshot %}
