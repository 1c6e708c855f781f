{#-
    One row per unit: a digest of each input, besides its readings, that its silver and gold rows
    depend on: its registry versions (the as-of join, dim_units), its RUL truth (labels) and its
    latest risk score (mart_fleet_health). Incremental: a build compares today's digests with
    the stored ones and writes only the units where one differs (with which one, and
    `updated_at`), so int_unit_change_log can name the units a registry change, a corrected RUL
    file or a scoring run touched. A unit no input knows any more keeps a row of null digests.

    A build digests only what changed since the model last ran (macros/incremental/unit_context_changes.sql):
      - registry: every unit's versions when the snapshot or the equipment-model catalogue changed
        (their content mark differs from the one stored at the last run), none otherwise;
      - truth: the test units of the datasets with a RUL file landed, or a test unit named by
        int_unit_reading_changes, since the model's watermark (the mapping view is read for those
        datasets only);
      - scores: the units with a score newer than the newest digested, and the units
        int_unit_reading_changes named since the watermark (an erasure deletes a unit's score).
    A unit is compared on the inputs digested for it; its other digests are kept as stored. So a
    build with nothing new digests no registry version, no truth and no score, and writes nothing.
    A first build or a full refresh digests every unit, as before.
-#}
{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key='unit_id',
        on_schema_change='fail',
        pre_hook="{{ create_unit_context_input_marks() }}",
        post_hook=[
            "{{ write_unit_context_input_marks(ref('snap_equipment_registry'), ref('equipment_models'), ref('int_unit_risk_scores_latest')) }}",
            "{{ advance_unit_change_watermark() }}",
        ],
    )
}}
{%- set registry_changed = registry_changed_since_marked(ref('snap_equipment_registry'), ref('equipment_models')) %}
{%- set truth_datasets = rul_datasets_touched(ref('base_cmapss__landed_lines'), ref('int_unit_reading_changes')) %}

-- depends_on: {{ ref('snap_equipment_registry') }} (the registry's content mark)
-- depends_on: {{ ref('equipment_models') }}
-- depends_on: {{ ref('base_cmapss__landed_lines') }} (the datasets with a RUL file landed)

with registry_versions as (
    select * from {{ ref('int_equipment_registry_versions') }}
    where {{ 'true' if registry_changed else 'false' }}
),

rul_truth as (
    select * from {{ ref('int_rul_truth_mapped') }}
    where {{ dataset_in('dataset', truth_datasets) }}
),

risk_scores as (
    select * from {{ ref('int_unit_risk_scores_latest') }}
    where {{ scores_changed_since_marked_filter(ref('int_unit_reading_changes')) }}
),

named_units as (
    -- the units whose readings a build since the watermark touched (erased units among them)
    {%- if is_incremental() %}
    select unit_id from {{ ref('int_unit_reading_changes') }}
    where changed_at > {{ unit_change_watermark() }}
    {%- else %}
    {{ empty_relation({'unit_id': 'varchar'}) }}
    {%- endif %}
),

stored_digests as (
    {%- if is_incremental() %}
    select
        unit_id,
        registry_digest,
        truth_digest,
        score_digest
    from {{ this }}
    {%- else %}
    {{ empty_relation({
        'unit_id': 'varchar', 'registry_digest': 'varchar', 'truth_digest': 'varchar', 'score_digest': 'varchar',
    }) }}
    {%- endif %}
),

registry_digests as (
    select
        unit_id,
        md5({{ string_agg_ordered(row_as_text('registry_versions'), "'|'", 'valid_from, registry_version_id') }})
            as registry_digest
    from registry_versions
    group by unit_id
),

truth_digests as (
    -- the truth int_unit_cycle_labels takes for each test unit (null where the mapping is not trusted)
    select
        {{ unit_id('dataset', "'test'", 'unit_number') }} as unit_id,
        md5(cast(rul_cycles as string)) as truth_digest
    from rul_truth
),

score_digests as (
    select
        unit_id,
        md5({{ row_as_text('risk_scores') }}) as score_digest
    from risk_scores
),

digested as (
    -- per unit, which inputs this build digested: those units' digests are compared, the rest kept
    select
        unit_id,
        true as is_registry_digested,
        false as is_truth_digested,
        false as is_score_digested
    from registry_digests
    union all
    select
        unit_id,
        true as is_registry_digested,
        false as is_truth_digested,
        false as is_score_digested
    from stored_digests
    where registry_digest is not null and {{ 'true' if registry_changed else 'false' }}
    union all
    select
        unit_id,
        false as is_registry_digested,
        true as is_truth_digested,
        false as is_score_digested
    from truth_digests
    union all
    select
        unit_id,
        false as is_registry_digested,
        true as is_truth_digested,
        false as is_score_digested
    from stored_digests
    where truth_digest is not null and {{ test_unit_of_datasets('unit_id', truth_datasets) }}
    union all
    select
        unit_id,
        false as is_registry_digested,
        false as is_truth_digested,
        true as is_score_digested
    from score_digests
    union all
    select
        unit_id,
        false as is_registry_digested,
        false as is_truth_digested,
        true as is_score_digested
    from named_units
),

digested_units as (
    select
        unit_id,
        bool_or(is_registry_digested) as is_registry_digested,
        bool_or(is_truth_digested) as is_truth_digested,
        bool_or(is_score_digested) as is_score_digested
    from digested
    group by unit_id
),

current_digests as (
    select
        digested_units.unit_id,
        case
            when digested_units.is_registry_digested then registry_digests.registry_digest
            else stored_digests.registry_digest
        end as registry_digest,
        case
            when digested_units.is_truth_digested then truth_digests.truth_digest
            else stored_digests.truth_digest
        end as truth_digest,
        case
            when digested_units.is_score_digested then score_digests.score_digest
            else stored_digests.score_digest
        end as score_digest,
        stored_digests.registry_digest as stored_registry_digest,
        stored_digests.truth_digest as stored_truth_digest,
        stored_digests.score_digest as stored_score_digest
    from digested_units
    left join registry_digests
        on digested_units.unit_id = registry_digests.unit_id
    left join truth_digests
        on digested_units.unit_id = truth_digests.unit_id
    left join score_digests
        on digested_units.unit_id = score_digests.unit_id
    left join stored_digests
        on digested_units.unit_id = stored_digests.unit_id
),

compared as (
    select
        unit_id,
        registry_digest,
        truth_digest,
        score_digest,
        -- a digest is an md5 (never empty), so '' stands for "none"
        coalesce(registry_digest, '') != coalesce(stored_registry_digest, '') as has_registry_change,
        coalesce(truth_digest, '') != coalesce(stored_truth_digest, '') as has_truth_change,
        coalesce(score_digest, '') != coalesce(stored_score_digest, '') as has_score_change
    from current_digests
),

final as (
    select
        *,
        {{ ingestion_timestamp() }} as updated_at
    from compared
    where has_registry_change or has_truth_change or has_score_change
)

select * from final
