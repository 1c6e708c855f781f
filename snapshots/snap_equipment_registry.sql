{#-
    The equipment registry as every build captured it: one row per unit per captured state.

    Why a snapshot: the registry reaches us as an extract overwritten in place (today's state
    only), so the only way to keep its history is to record, on every build, what changed since
    the last one; that is what a snapshot does.

    Why the check strategy (on every tracked column, updated_at included) rather than the
    timestamp strategy on the registry's updated_at: the timestamp strategy sees a change only
    when updated_at moves forward, so a row edited with updated_at unchanged or set back was
    silently dropped. The check strategy captures any change of any tracked column. Its
    dbt_valid_from / dbt_valid_to are capture times (when a build saw the state), a timeline
    that only moves forward, so the snapshot itself can never overlap. When a change took effect
    is decided downstream: int_equipment_registry_versions dates a version by the registry's
    updated_at when it moved forward, else by its capture time.

    Why hard_deletes='new_record': a unit removed from the extract gets a deletion row
    (dbt_is_deleted = 'True') dated by the build that saw it gone, and a unit put back gets a
    new row after it, never a row overlapping its closed history.

    Why the pre-hook: a missing, empty or header-only extract would otherwise close every unit.
    Once the snapshot holds units, such an extract stops the build here, naming the file, and
    the history is left as it was (assert_registry_extract_not_lost). So does an extract still
    being written (changed during the landing settle interval), whose units not written yet would
    be recorded as removed. A landing folder that never had a registry (real NASA files alone)
    still builds: the snapshot is then empty.

    Why it depends on the equipment-model catalogue: so that a model code the catalogue does not
    know (test registry_equipment_model_codes_are_known) stops the build before the snapshot
    records it.

    Not on Spark (parquet tables: dbt-spark snapshots need Delta): there the same rows come from
    models/intermediate/int_equipment_registry_captures.sql and int_equipment_registry_snapshot.sql.

    A snapshot cannot know what happened before its first run: a unit's first captured
    version is taken as valid from the unit's commissioning (int_equipment_registry_versions).
-#}
{% snapshot snap_equipment_registry %}

{{
    config(
        unique_key='unit_id',
        strategy='check',
        check_cols=[
            'equipment_model_code',
            'site_code',
            'firmware_version',
            'commissioned_at',
            'cycle_hours',
            'updated_at',
        ],
        hard_deletes='new_record',
        enabled=target.type != 'spark',
        pre_hook="{{ assert_registry_extract_not_lost(ref('stg_registry__equipment_registry')) }}",
    )
}}

-- depends_on: {{ ref('equipment_models') }}
-- (dbt build runs a test before a node only if the node depends on all the test's parents: this
-- makes registry_equipment_model_codes_are_known, which reads the catalogue, stop the snapshot)

select * from {{ ref('stg_registry__equipment_registry') }}

{% endsnapshot %}
