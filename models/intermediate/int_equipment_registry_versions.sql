{#-
    One row per unit per registry version, with half-open validity [valid_from, valid_to)
    (valid_to null = current), and the equipment model's catalogue attributes.

    The snapshot records what each build saw (capture times); this model dates each version by
    when it took effect:
      - a unit's first version: from its commissioning (the snapshot cannot see history before
        its own first run, and a reading taken before that must still find the unit's entry);
      - a later version whose registry updated_at moved forward: from that updated_at;
      - a later version whose updated_at did not move forward (a row edited without touching
        updated_at, or with it set back), and a unit put back after a removal with its old
        updated_at: from the capture time of the build that first saw it. That is the latest
        moment the change can have taken effect, so no reading already joined to the previous
        version is moved; test warn_registry_versions_dated_by_capture names these units;
      - a removal (a deletion row of the snapshot) ends the unit's last version at its capture
        time and is not itself a version.
    Effective times are made non-decreasing per unit (running maximum: a version dated before
    the unit's previous row starts at that row's start, rule 'previous_row_start'), and each
    version ends where the unit's next captured row starts, so no two versions of a unit overlap.
    A view: one row per registry version, computed where it is read (the as-of join, the per-unit
    digests of int_unit_context_hashes, dim_units), so a build with nothing new writes nothing.
-#}
{{ config(materialized='view') }}

with snapshot_rows as (
    select * from {{ ref('snap_equipment_registry') }}
),

equipment_models as (
    select * from {{ ref('equipment_models') }}
),

captured as (
    select
        *,
        coalesce(dbt_is_deleted = 'True', false) as is_removal,
        max(updated_at) over (
            partition by unit_id
            order by dbt_valid_from
            rows between unbounded preceding and 1 preceding
        ) as earlier_max_updated_at
    from snapshot_rows
),

dated as (
    select
        *,
        case
            when is_removal then 'removal_captured_at'
            when earlier_max_updated_at is null then 'commissioning'
            when updated_at > earlier_max_updated_at then 'registry_updated_at'
            else 'captured_at'
        end as own_valid_from_rule,
        case
            when is_removal then dbt_valid_from
            when earlier_max_updated_at is null then least(commissioned_at, updated_at)
            when updated_at > earlier_max_updated_at then updated_at
            else dbt_valid_from
        end as own_valid_from
    from captured
),

effective as (
    select
        *,
        max(own_valid_from) over (
            partition by unit_id
            order by dbt_valid_from
            rows between unbounded preceding and current row
        ) as effective_from
    from dated
),

bounded as (
    select
        *,
        -- a unit's last row ends only if the snapshot closed it without a deletion row (rows
        -- captured before hard_deletes='new_record': a removal closed the row itself)
        coalesce(
            lead(effective_from) over (partition by unit_id order by dbt_valid_from),
            dbt_valid_to
        ) as effective_to
    from effective
),

versioned as (
    select
        *,
        -- bigint on every engine (Spark's row_number is an int)
        cast(row_number() over (partition by unit_id order by dbt_valid_from) as bigint) as version_number
    from bounded
    where not is_removal
),

final as (
    select
        -- the version's key from what it is (unit, position, effective start), not from when a build
        -- happened to capture it (dbt_scd_id): the same registry history gives the same keys in
        -- every warehouse, so gold built from it compares equal across environments
        md5(concat_ws(
            '|', versioned.unit_id, cast(versioned.version_number as string), cast(versioned.effective_from as string)
        )) as registry_version_id,
        versioned.unit_id,
        versioned.version_number,
        versioned.dataset,
        versioned.split,
        versioned.unit_number,
        versioned.equipment_model_code,
        equipment_models.manufacturer,
        equipment_models.model_family,
        versioned.site_code,
        versioned.firmware_version,
        versioned.commissioned_at,
        versioned.cycle_hours,
        versioned.updated_at as registry_updated_at,
        versioned.dbt_valid_from as captured_at,
        case
            when versioned.effective_from > versioned.own_valid_from then 'previous_row_start'
            else versioned.own_valid_from_rule
        end as valid_from_rule,
        versioned.effective_from as valid_from,
        versioned.effective_to as valid_to,
        versioned.effective_to is null as is_current
    from versioned
    left join equipment_models
        on versioned.equipment_model_code = equipment_models.equipment_model_code
)

select * from final
