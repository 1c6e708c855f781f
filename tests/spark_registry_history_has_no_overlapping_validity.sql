{#- Spark only: the snapshot's own test (snapshots/snap_equipment_registry.yml) on the model that
    stands in for it there (models/intermediate/snap_equipment_registry.sql). -#}
{{ config(enabled=target.type == 'spark') }}

{{ test_no_overlapping_validity(ref('snap_equipment_registry'), 'unit_id', 'dbt_valid_from', 'dbt_valid_to') }}
